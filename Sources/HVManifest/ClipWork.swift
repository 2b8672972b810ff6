// Pipeline bookkeeping on the manifest: listing pending clips, claiming one atomically (pending, or
// 'running' under a lease that expired because its worker died), and recording success (the token file)
// or failure. Each call is one IMMEDIATE transaction, so concurrent workers never claim the same clip.
import Foundation
import GRDB

/// One clip to process, with what a pipeline needs to cut it out of its source video.
public struct ClipWork: Equatable {
    public var clipID: Int64
    public var videoKey: String
    public var path: String
    public var startSeconds: Double
    public var durationSeconds: Double
    public var sampleFps: Double
    public var frameCount: Int
    public var split: String?
    public var shardKey: Int64
    public var state: String
    public var attempts: Int

    /// The line `list` and `claim` print: id, path, start seconds, duration seconds (tab separated).
    public var line: String {
        "\(clipID)\t\(path)\t\(ClipWork.seconds(startSeconds))\t\(ClipWork.seconds(durationSeconds))"
    }

    static func seconds(_ v: Double) -> String {
        var s = String(format: "%.3f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}

/// What `done` records about a clip's token file.
public struct TokenFileRecord: Equatable {
    public var path: String
    public var tokenizerHash: String
    public var bytes: Int64
    public var bits: Int64
    public var maskedFraction: Double
    public init(path: String, tokenizerHash: String, bytes: Int64, bits: Int64, maskedFraction: Double) {
        self.path = path; self.tokenizerHash = tokenizerHash; self.bytes = bytes; self.bits = bits
        self.maskedFraction = maskedFraction
    }
}

extension Manifest {
    static let workColumns = """
        clip.id AS clip_id, video.key AS video_key, video.path AS path, clip.start_seconds, clip.duration_seconds,
        clip.sample_fps, clip.frame_count, clip.split, clip.shard_key, clip_status.state, clip_status.attempts
        """
    static let workFrom = "clip JOIN video ON video.id = clip.video_id JOIN clip_status ON clip_status.clip_id = clip.id"

    static func work(_ row: Row) -> ClipWork {
        ClipWork(clipID: row["clip_id"], videoKey: row["video_key"], path: row["path"],
                 startSeconds: row["start_seconds"], durationSeconds: row["duration_seconds"],
                 sampleFps: row["sample_fps"], frameCount: row["frame_count"], split: row["split"],
                 shardKey: row["shard_key"], state: row["state"], attempts: row["attempts"])
    }

    static func filter(states: [String], shards: ShardSelector?, split: String?) -> (String, StatementArguments) {
        var conditions = ["clip_status.state IN (\(states.map { "'\($0)'" }.joined(separator: ", ")))"]
        var args: StatementArguments = []
        if let shards { conditions.append(shards.sql) }
        if let split { conditions.append("clip.split = ?"); args += [split] }
        return (conditions.joined(separator: " AND "), args)
    }

    /// Clips in the given states (default: pending), optionally restricted to work shards, a split and the videos
    /// of one source (by name), by id.
    public func clips(states: [String] = ["pending"], shards: ShardSelector? = nil, split: String? = nil,
                      source: String? = nil) throws -> [ClipWork] {
        var (cond, args) = Manifest.filter(states: states, shards: shards, split: split)
        if let source {
            cond += " AND video.source_id = (SELECT id FROM source WHERE name = ?)"
            args += [source]
        }
        return try guarded { try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Manifest.workColumns) FROM \(Manifest.workFrom) WHERE \(cond) ORDER BY clip.id",
                             arguments: args).map(Manifest.work)
        } }
    }

    /// Claims the first claimable clip: 'pending', or 'running' with an expired lease (its worker died).
    /// Marks it 'running' by `worker` until now + `lease` seconds and counts the attempt. Nil when none is left.
    public func claim(worker: String, lease: TimeInterval, shards: ShardSelector? = nil, split: String? = nil,
                      now: Date = Date()) throws -> ClipWork? {
        let t = now.timeIntervalSince1970
        var cond = "(clip_status.state = 'pending' OR (clip_status.state = 'running' AND clip_status.lease_until < ?))"
        var args: StatementArguments = [t]
        if let shards { cond += " AND " + shards.sql }
        if let split { cond += " AND clip.split = ?"; args += [split] }
        return try guarded { try queue.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Manifest.workColumns) FROM \(Manifest.workFrom) WHERE \(cond) ORDER BY clip.id LIMIT 1",
                                             arguments: args) else { return nil }
            var work = Manifest.work(row)
            try db.execute(sql: """
                UPDATE clip_status SET state = 'running', worker = ?, attempts = attempts + 1, lease_until = ?,
                  updated_at = ?, error = NULL WHERE clip_id = ?
                """, arguments: [worker, t + lease, Manifest.now(), work.clipID])
            work.state = "running"
            work.attempts += 1
            return work
        } }
    }

    private func requireClip(_ db: Database, _ id: Int64) throws {
        if try Int64.fetchOne(db, sql: "SELECT id FROM clip WHERE id = ?", arguments: [id]) == nil {
            throw ManifestError.unknownClip(id: id)
        }
    }

    /// Records the clip's token file and marks it 'done', in one transaction. Works from any state, so a
    /// pipeline that did not claim (make-driven) can record results too; re-recording replaces the row.
    public func markDone(clipID: Int64, worker: String?, tokenFile: TokenFileRecord) throws {
        try guarded { try queue.write { db in
            try requireClip(db, clipID)
            try Manifest.recordDone(db, clipID: clipID, worker: worker, tokenFile: tokenFile, stamp: Manifest.now())
        } }
    }

    /// The rows of a done clip, inside the caller's transaction (markDone, merge). A token file recorded again
    /// unchanged (same tokenizer, path and size: a pipeline re-run that verified and kept it) stays in its shard;
    /// a new one is in none until packed, and `pack` then drops the shard that held the old one.
    static func recordDone(_ db: Database, clipID: Int64, worker: String?, tokenFile: TokenFileRecord, stamp: String) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO token_file (clip_id, tokenizer_hash, path, bytes, bits, masked_fraction, shard_id, created_at)
            VALUES (?, ?, ?, ?, ?, ?, (SELECT shard_id FROM token_file WHERE clip_id = ? AND tokenizer_hash = ? AND path = ? AND bytes = ?), ?)
            """, arguments: [clipID, tokenFile.tokenizerHash, tokenFile.path, tokenFile.bytes, tokenFile.bits,
                             tokenFile.maskedFraction, clipID, tokenFile.tokenizerHash, tokenFile.path, tokenFile.bytes, stamp])
        try db.execute(sql: """
            UPDATE clip_status SET state = 'done', worker = coalesce(?, worker), lease_until = NULL,
              updated_at = ?, error = NULL WHERE clip_id = ?
            """, arguments: [worker, stamp, clipID])
    }

    /// Marks the clip 'failed' with a one-line error; `reset` makes failed clips pending again.
    public func markFailed(clipID: Int64, worker: String?, error: String) throws {
        try guarded { try queue.write { db in
            try requireClip(db, clipID)
            try db.execute(sql: """
                UPDATE clip_status SET state = 'failed', worker = coalesce(?, worker), lease_until = NULL,
                  updated_at = ?, error = ? WHERE clip_id = ?
                """, arguments: [worker, Manifest.now(), error, clipID])
        } }
    }

    /// Puts clips in `states` back to 'pending' (e.g. failed ones after fixing the cause). Returns how many.
    @discardableResult
    public func reset(states: [String], shards: ShardSelector? = nil) throws -> Int {
        let (cond, args) = Manifest.filter(states: states, shards: shards, split: nil)
        return try guarded { try queue.write { db in
            try db.execute(sql: """
                UPDATE clip_status SET state = 'pending', lease_until = NULL, updated_at = ?
                WHERE clip_id IN (SELECT clip.id FROM \(Manifest.workFrom) WHERE \(cond))
                """, arguments: [Manifest.now()] + args)
            return db.changesCount
        } }
    }

    /// Records a packed shard and links its clips' token files to it, in one transaction.
    @discardableResult
    public func recordShard(path: String, tokenizerHash: String, split: String?, bytes: Int64, clipIDs: [Int64]) throws -> Int64 {
        try guarded { try queue.write { db in
            try db.execute(sql: """
                INSERT INTO shard (path, tokenizer_hash, split, clip_count, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(path) DO UPDATE SET tokenizer_hash = excluded.tokenizer_hash, split = excluded.split,
                  clip_count = excluded.clip_count, bytes = excluded.bytes, created_at = excluded.created_at
                """, arguments: [path, tokenizerHash, split, clipIDs.count, bytes, Manifest.now()])
            let id = try Int64.fetchOne(db, sql: "SELECT id FROM shard WHERE path = ?", arguments: [path])!
            for clip in clipIDs {
                try db.execute(sql: "UPDATE token_file SET shard_id = ? WHERE clip_id = ? AND tokenizer_hash = ?",
                               arguments: [id, clip, tokenizerHash])
                // A shard listing a clip the manifest has no token file for would leave the two out of step.
                guard db.changesCount == 1 else {
                    throw ManifestError.foreignClip(detail: "clip \(clip) has no token file of tokenizer \(tokenizerHash.prefix(12)) to put in shard \(path)")
                }
            }
            return id
        } }
    }
}
