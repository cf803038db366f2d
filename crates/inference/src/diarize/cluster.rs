//! Agglomerative clustering of speaker embeddings: average linkage on cosine
//! distance, merged until the closest clusters are further apart than a
//! threshold, within the caller's minimum and maximum speaker counts.

use super::encoder::cosine;

/// Clustering settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterConfig {
    /// Stop merging when the closest pair's average cosine distance exceeds this.
    pub threshold: f32,
    /// At least this many clusters (when there are that many items).
    pub min_clusters: usize,
    /// At most this many clusters.
    pub max_clusters: usize,
}

/// Labels `0..k` for each embedding, numbered in order of first appearance.
pub fn agglomerative(items: &[Vec<f32>], config: ClusterConfig) -> Vec<usize> {
    let n = items.len();
    if n == 0 {
        return Vec::new();
    }
    let min_k = config.min_clusters.clamp(1, n);
    let max_k = config.max_clusters.max(min_k);
    // Pairwise distances (n is bounded by the caller's window budget).
    let mut dist = vec![0f32; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let d = 1.0 - cosine(&items[i], &items[j]);
            dist[i * n + j] = d;
            dist[j * n + i] = d;
        }
    }
    let mut size = vec![1usize; n];
    let mut alive = vec![true; n];
    let mut parent: Vec<usize> = (0..n).collect();
    let mut clusters = n;
    while clusters > min_k {
        let mut best = (f32::INFINITY, 0, 0);
        for i in (0..n).filter(|&i| alive[i]) {
            for j in (i + 1..n).filter(|&j| alive[j]) {
                let d = dist[i * n + j];
                if d < best.0 {
                    best = (d, i, j);
                }
            }
        }
        let (d, a, b) = best;
        if !d.is_finite() || (d > config.threshold && clusters <= max_k) {
            break;
        }
        // Average linkage: the merged row is the size-weighted mean.
        let (sa, sb) = (size[a] as f32, size[b] as f32);
        for k in (0..n).filter(|&k| alive[k] && k != a && k != b) {
            let merged = (dist[a * n + k] * sa + dist[b * n + k] * sb) / (sa + sb);
            dist[a * n + k] = merged;
            dist[k * n + a] = merged;
        }
        size[a] += size[b];
        alive[b] = false;
        parent[b] = a;
        clusters -= 1;
    }
    // Resolve each item to its surviving root, then renumber by first appearance.
    let root = |mut i: usize| {
        while parent[i] != i {
            i = parent[i];
        }
        i
    };
    let mut ids: Vec<Option<usize>> = vec![None; n];
    let mut next = 0;
    (0..n)
        .map(|i| {
            let r = root(i);
            *ids[r].get_or_insert_with(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// Merges clusters with fewer than `share` of the items (or a single item)
/// into the cluster of the nearest centroid, smallest first, while more than
/// `min_clusters` remain; labels are renumbered by first appearance.
pub fn absorb_small(items: &[Vec<f32>], labels: &mut [usize], min_clusters: usize, share: f64) {
    let limit = ((items.len() as f64 * share).ceil() as usize).max(2);
    loop {
        let k = labels.iter().max().map_or(0, |m| m + 1);
        if k <= min_clusters.max(1) {
            break;
        }
        let mut sizes = vec![0usize; k];
        labels.iter().for_each(|&l| sizes[l] += 1);
        let Some(small) = (0..k)
            .filter(|&c| sizes[c] < limit)
            .min_by_key(|&c| sizes[c])
        else {
            break;
        };
        let cents = centroids(items, labels);
        let target = (0..k)
            .filter(|&c| c != small)
            .max_by(|&a, &b| {
                cosine(&cents[small], &cents[a]).total_cmp(&cosine(&cents[small], &cents[b]))
            })
            .unwrap_or(small);
        let mut ids: Vec<Option<usize>> = vec![None; k];
        let mut next = 0;
        for l in labels.iter_mut() {
            let merged = if *l == small { target } else { *l };
            *l = *ids[merged].get_or_insert_with(|| {
                next += 1;
                next - 1
            });
        }
    }
}

/// Mean of each cluster's members, unit length.
pub fn centroids(items: &[Vec<f32>], labels: &[usize]) -> Vec<Vec<f32>> {
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let dim = items.first().map_or(0, Vec::len);
    let mut out = vec![vec![0f32; dim]; k];
    for (item, &l) in items.iter().zip(labels) {
        out[l].iter_mut().zip(item).for_each(|(c, v)| *c += v);
    }
    for c in &mut out {
        let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            c.iter_mut().for_each(|x| *x /= norm);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn separates_two_groups_and_respects_counts() {
        let items = vec![
            unit(&[1.0, 0.1, 0.0]),
            unit(&[0.0, 1.0, 0.1]),
            unit(&[1.0, 0.0, 0.1]),
            unit(&[0.1, 1.0, 0.0]),
        ];
        let config = ClusterConfig {
            threshold: 0.5,
            min_clusters: 1,
            max_clusters: 8,
        };
        assert_eq!(agglomerative(&items, config), vec![0, 1, 0, 1]);
        let one = ClusterConfig {
            max_clusters: 1,
            ..config
        };
        assert_eq!(agglomerative(&items, one), vec![0, 0, 0, 0]);
        let four = ClusterConfig {
            min_clusters: 4,
            ..config
        };
        assert_eq!(agglomerative(&items, four), vec![0, 1, 2, 3]);
    }

    #[test]
    fn lone_outliers_join_their_nearest_cluster() {
        let mut items = vec![unit(&[1.0, 0.0, 0.0]); 10];
        items.push(unit(&[0.6, 0.8, 0.0]));
        items.extend(vec![unit(&[0.0, 0.0, 1.0]); 10]);
        let mut labels = vec![0; 10];
        labels.push(1);
        labels.extend(vec![2; 10]);
        absorb_small(&items, &mut labels, 1, 0.08);
        assert_eq!(labels[10], 0);
        assert_eq!(labels.iter().max(), Some(&1));
        // A required minimum keeps it apart.
        let mut kept = vec![0, 1, 2];
        absorb_small(&items[9..12], &mut kept, 3, 0.5);
        assert_eq!(kept, vec![0, 1, 2]);
    }
}
