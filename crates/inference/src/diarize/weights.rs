//! Reads Resemblyzer's `pretrained.pt`, a legacy (pre-1.6, non-zip) PyTorch
//! checkpoint, into candle tensors.
//!
//! The legacy format is a run of pickles — magic number, protocol version,
//! system info, the saved object, the list of storage keys — followed by each
//! storage's raw little-endian data (an 8-byte element count, then the
//! elements). candle's pickle interpreter ([`candle_core::pickle::Stack`])
//! reads the pickles; tensor views are cut out of the storages here.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use super::DiarizeError;

/// The legacy format's first pickle: protocol 2, `LONG1` of 10 bytes holding
/// torch's magic number `0x1950a86a20f9469cfc6c`, `STOP`.
const MAGIC: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

/// One tensor as the pickle describes it: a view into a storage.
struct TensorRef {
    storage: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

fn bad(why: impl Into<String>) -> DiarizeError {
    DiarizeError::Model(why.into())
}

fn read_pickle(cur: &mut Cursor<&[u8]>) -> Result<Object, DiarizeError> {
    let mut stack = Stack::empty();
    stack
        .read_loop(cur)
        .map_err(|e| bad(format!("pickle: {e}")))?;
    stack.finalize().map_err(|e| bad(format!("pickle: {e}")))
}

fn usizes(o: Object) -> Result<Vec<usize>, DiarizeError> {
    Vec::<usize>::try_from(o).map_err(|o| bad(format!("expected a tuple of sizes, got {o:?}")))
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`.
fn tensor_ref(value: Object) -> Result<TensorRef, DiarizeError> {
    let (callable, args) = value
        .reduce()
        .map_err(|o| bad(format!("not a tensor: {o:?}")))?;
    match callable {
        Object::Class {
            module_name,
            class_name,
        } if module_name == "torch._utils" && class_name == "_rebuild_tensor_v2" => {}
        other => return Err(bad(format!("unexpected tensor constructor {other:?}"))),
    }
    let mut args = args.tuple().map_err(|_| bad("tensor arguments"))?;
    if args.len() < 4 {
        return Err(bad("short tensor arguments"));
    }
    let stride = usizes(args.remove(3))?;
    let shape = usizes(args.remove(2))?;
    let offset = args
        .remove(1)
        .int_or_long()
        .map_err(|_| bad("tensor offset"))?;
    let mut storage = args
        .remove(0)
        .persistent_load()
        .and_then(Object::tuple)
        .map_err(|_| bad("tensor storage"))?;
    if storage.len() < 3 {
        return Err(bad("short storage reference"));
    }
    let (_, class_name) = storage.remove(1).class().map_err(|_| bad("storage type"))?;
    if class_name != "FloatStorage" {
        return Err(bad(format!("unsupported storage {class_name}")));
    }
    let key = storage
        .remove(1)
        .unicode()
        .map_err(|_| bad("storage key"))?;
    Ok(TensorRef {
        storage: key,
        offset: usize::try_from(offset).map_err(|_| bad("negative offset"))?,
        shape,
        stride,
    })
}

/// Reads the `model_state` of a legacy checkpoint: parameter name → f32 tensor on the CPU.
pub fn read_legacy_checkpoint(bytes: &[u8]) -> Result<HashMap<String, Tensor>, DiarizeError> {
    if !bytes.starts_with(&MAGIC) {
        return Err(bad("not a legacy PyTorch checkpoint (bad magic number)"));
    }
    let mut cur = Cursor::new(bytes);
    cur.set_position(MAGIC.len() as u64);
    let _protocol = read_pickle(&mut cur)?;
    let _sys_info = read_pickle(&mut cur)?;
    let root = read_pickle(&mut cur)?;
    let keys = match read_pickle(&mut cur)? {
        Object::List(keys) => keys
            .into_iter()
            .map(|k| k.unicode().map_err(|_| bad("storage key list")))
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(bad(format!("storage key list: {other:?}"))),
    };

    // Each storage: u64 element count, then the f32 elements.
    let mut storages: HashMap<String, Vec<f32>> = HashMap::new();
    for key in keys {
        let mut n = [0u8; 8];
        cur.read_exact(&mut n)
            .map_err(|_| bad("truncated storage"))?;
        let n = usize::try_from(u64::from_le_bytes(n)).map_err(|_| bad("storage size"))?;
        let start = usize::try_from(cur.position()).map_err(|_| bad("offset"))?;
        let end = n
            .checked_mul(4)
            .and_then(|b| b.checked_add(start))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("truncated storage"))?;
        let data = bytes[start..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        cur.set_position(end as u64);
        storages.insert(key, data);
    }

    let state = root
        .dict()
        .map_err(|_| bad("checkpoint is not a dict"))?
        .into_iter()
        .find(|(k, _)| *k == Object::Unicode("model_state".into()))
        .map(|(_, v)| v)
        .ok_or_else(|| bad("no model_state"))?;
    // An OrderedDict pickles as REDUCE(OrderedDict, ()) followed by SETITEMS,
    // which candle folds into a Dict or leaves as Reduce/Build around one.
    let entries = match state {
        Object::Dict(kv) => kv,
        Object::Build { args, .. } | Object::Reduce { args, .. } => match *args {
            Object::Dict(kv) => kv,
            other => return Err(bad(format!("model_state: {other:?}"))),
        },
        other => return Err(bad(format!("model_state: {other:?}"))),
    };

    let mut out = HashMap::new();
    for (name, value) in entries {
        let name = name.unicode().map_err(|_| bad("parameter name"))?;
        // The OrderedDict's `_metadata` (module versions) rides along; skip it.
        if !matches!(value, Object::Reduce { .. }) {
            continue;
        }
        let r = tensor_ref(value)?;
        let storage = storages
            .get(&r.storage)
            .ok_or_else(|| bad(format!("{name}: missing storage {}", r.storage)))?;
        let numel: usize = r.shape.iter().product();
        // The checkpoint's tensors are contiguous views; anything else is refused.
        let mut expected = 1;
        for (dim, stride) in r.shape.iter().zip(&r.stride).rev() {
            if *dim > 1 && *stride != expected {
                return Err(bad(format!("{name}: non-contiguous tensor")));
            }
            expected *= dim;
        }
        let data = r
            .offset
            .checked_add(numel)
            .and_then(|end| storage.get(r.offset..end))
            .ok_or_else(|| bad(format!("{name}: view outside its storage")))?;
        let t = Tensor::from_slice(data, r.shape.as_slice(), &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| bad(format!("{name}: {e}")))?;
        out.insert(name, t);
    }
    Ok(out)
}
