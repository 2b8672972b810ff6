// Merging what other copies of a manifest recorded (one per machine or per Slurm array task, each written only by
// its own workers) into the main manifest, which has one writer: the merge. Clips are matched by video key and
// clip index, not by row id, so the copies may have been made at any time from the same `add`. Idempotent:
// merging a copy twice changes nothing the second time.
import Foundation
import GRDB

public struct MergeResult: Equatable {
    /// Clips newly marked done (with their token files) in the main manifest.
    public var done = 0
    /// Clips newly marked failed (only clips not done in the main manifest take a failure).
    public var failed = 0
    /// Clips the copy had done that the main manifest already had done with the same token file.
    public var unchanged = 0
}

extension Manifest {
    /// Merges the done and failed clips of the manifest at `path` (opened read-only) into this one, in one
    /// transaction. A clip of the copy that this manifest lacks is an error naming it (copies of another dataset).
    @discardableResult
    public func merge(from path: String) throws -> MergeResult {
        let source = try Manifest(path: path, readOnly: true)
        struct Done { var key: String; var idx: Int; var hash: String; var file: String; var bytes: Int64; var bits: Int64; var masked: Double; var worker: String? }
        struct Failed { var key: String; var idx: Int; var error: String?; var worker: String? }
        let (done, failed): ([Done], [Failed]) = try source.guarded { try source.queue.read { db in
            let d = try Row.fetchAll(db, sql: """
                SELECT video.key, clip.idx, t.tokenizer_hash, t.path, t.bytes, t.bits, t.masked_fraction, s.worker
                FROM clip JOIN video ON video.id = clip.video_id JOIN clip_status s ON s.clip_id = clip.id
                JOIN token_file t ON t.clip_id = clip.id WHERE s.state = 'done' ORDER BY clip.id, t.tokenizer_hash
                """).map { Done(key: $0[0], idx: $0[1], hash: $0[2], file: $0[3], bytes: $0[4], bits: $0[5], masked: $0[6], worker: $0[7]) }
            let f = try Row.fetchAll(db, sql: """
                SELECT video.key, clip.idx, s.error, s.worker FROM clip JOIN video ON video.id = clip.video_id
                JOIN clip_status s ON s.clip_id = clip.id WHERE s.state = 'failed' ORDER BY clip.id
                """).map { Failed(key: $0[0], idx: $0[1], error: $0[2], worker: $0[3]) }
            return (d, f)
        } }
        return try guarded { try queue.write { db in
            var result = MergeResult()
            func clipID(_ key: String, _ idx: Int) throws -> Int64 {
                guard let id = try Int64.fetchOne(db, sql: """
                    SELECT clip.id FROM clip JOIN video ON video.id = clip.video_id WHERE video.key = ? AND clip.idx = ?
                    """, arguments: [key, idx]) else {
                    throw ManifestError.foreignClip(detail: "clip \(idx) of video '\(key)' in \(path) is not in \(self.path) (a copy of another dataset?)")
                }
                return id
            }
            let stamp = Manifest.now()
            for d in done {
                let id = try clipID(d.key, d.idx)
                let same = try Row.fetchOne(db, sql: """
                    SELECT 1 FROM token_file t JOIN clip_status s ON s.clip_id = t.clip_id WHERE t.clip_id = ? AND
                      t.tokenizer_hash = ? AND t.path = ? AND t.bytes = ? AND t.bits = ? AND t.masked_fraction = ? AND s.state = 'done'
                    """, arguments: [id, d.hash, d.file, d.bytes, d.bits, d.masked]) != nil
                if same { result.unchanged += 1; continue }
                try Manifest.recordDone(db, clipID: id, worker: d.worker, tokenFile: TokenFileRecord(
                    path: d.file, tokenizerHash: d.hash, bytes: d.bytes, bits: d.bits, maskedFraction: d.masked), stamp: stamp)
                result.done += 1
            }
            for f in failed {
                let id = try clipID(f.key, f.idx)
                try db.execute(sql: """
                    UPDATE clip_status SET state = 'failed', worker = coalesce(?, worker), lease_until = NULL, updated_at = ?,
                      error = ? WHERE clip_id = ? AND state NOT IN ('done', 'failed')
                    """, arguments: [f.worker, stamp, f.error, id])
                result.failed += db.changesCount
            }
            return result
        } }
    }

    /// The work shards (of `count`) that still hold clips in `states`: what to submit again.
    public func shardsHolding(states: [String] = ["pending", "running", "failed"], count: Int) throws -> [Int] {
        let keys = try guarded { try queue.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT clip.shard_key FROM clip JOIN clip_status s ON s.clip_id = clip.id
                WHERE s.state IN (\(states.map { "'\($0)'" }.joined(separator: ", ")))
                """)
        } }
        return Array(Set(keys.map { Int($0 % Int64(count)) })).sorted()
    }
}

/// `[1, 2, 3, 7, 9, 10]` → "1-3,7,9-10" (Slurm's --array list syntax).
public func arrayList(_ indices: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    let s = indices.sorted()
    while i < s.count {
        var j = i
        while j + 1 < s.count && s[j + 1] == s[j] + 1 { j += 1 }
        parts.append(i == j ? "\(s[i])" : "\(s[i])-\(s[j])")
        i = j + 1
    }
    return parts.joined(separator: ",")
}
