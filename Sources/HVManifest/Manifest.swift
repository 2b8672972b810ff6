// The dataset manifest: one SQLite file (GRDB on the system libsqlite3) that many processes open at once.
// WAL journal (readers never block the writer), a 30 s busy timeout, IMMEDIATE write transactions (no
// read-to-write upgrade, the one SQLITE_BUSY a timeout cannot fix) and one short transaction per change,
// so that concurrent workers never see "database is locked" and a killed one leaves no half rows.
import Foundation
import GRDB

public final class Manifest {
    public let path: String
    public let queue: DatabaseQueue

    /// Opens the manifest at `path`. With `create`, a missing file is created; without, it is an error.
    /// Older schemas are migrated to the latest version; a manifest from a newer build is refused. `readOnly`
    /// (status, list, export) never writes the file: no journal-mode change, no migration (an older schema is
    /// refused with the command that migrates it).
    public init(path: String, create: Bool = false, busyTimeout: TimeInterval = 30, migrate: Bool = true,
                readOnly: Bool = false, allowOlder: Bool = false) throws {
        self.path = path
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if isDir.boolValue { throw ManifestError.databaseUnreadable(path: path, reason: "is a directory") }
        if !exists && !create { throw ManifestError.databaseMissing(path: path) }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.journalMode = readOnly ? .default : .wal
        config.readonly = readOnly
        config.foreignKeysEnabled = true
        config.label = "manifest"
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch let e as DatabaseError where e.resultCode == .SQLITE_NOTADB {
            throw ManifestError.notAManifest(path: path)
        } catch {
            throw ManifestError.databaseUnreadable(path: path, reason: Manifest.reason(error))
        }
        try checkSchema(allowEmpty: create && !readOnly)
        if readOnly {
            let applied = Set(try appliedMigrations())
            let pending = ManifestSchema.migrations.map(\.name).filter { !applied.contains($0) }
            if !pending.isEmpty && !allowOlder {
                throw ManifestError.databaseUnreadable(path: path, reason: "its schema lacks \(pending.joined(separator: ", ")); 'hv-manifest init \(path)' migrates it")
            }
        } else if migrate {
            try self.migrate()
        }
    }

    /// SQLite's quick_check: nil when the file is sound, else its first complaint.
    public func damage() throws -> String? {
        let lines = try guardedOpen { try queue.read { try String.fetchAll($0, sql: "PRAGMA quick_check") } }
        return lines == ["ok"] ? nil : (lines.first ?? "quick_check returned nothing")
    }

    static func reason(_ error: Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "\(e.resultCode)" }
        return "\(error)"
    }

    /// Runs `body` and turns SQLite errors into `ManifestError.sqlite`.
    @discardableResult
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() }
        catch let e as ManifestError { throw e }
        catch let e as DatabaseError where e.resultCode == .SQLITE_CORRUPT {
            // Bad data (65) like any other damaged input, not an I/O failure.
            throw ManifestError.damaged(path: path, reason: Manifest.reason(e))
        }
        catch { throw ManifestError.sqlite(reason: Manifest.reason(error)) }
    }

    private func checkSchema(allowEmpty: Bool) throws {
        let (tables, applied): ([String], [String]) = try guardedOpen {
            try queue.read { db in
                let t = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                let a = t.contains("grdb_migrations")
                    ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : []
                return (t, a)
            }
        }
        let known = Set(ManifestSchema.migrations.map(\.name))
        let unknown = applied.filter { !known.contains($0) }
        if !unknown.isEmpty { throw ManifestError.newerSchema(path: path, migrations: unknown.sorted()) }
        if applied.isEmpty && !(allowEmpty && tables.isEmpty) {
            throw ManifestError.notAManifest(path: path)
        }
    }

    private func guardedOpen<T>(_ body: () throws -> T) throws -> T {
        do { return try body() }
        catch let e as DatabaseError where e.resultCode == .SQLITE_NOTADB {
            throw ManifestError.notAManifest(path: path)
        } catch let e as DatabaseError where e.resultCode == .SQLITE_CORRUPT {
            throw ManifestError.damaged(path: path, reason: Manifest.reason(e))
        } catch {
            throw ManifestError.databaseUnreadable(path: path, reason: Manifest.reason(error))
        }
    }

    /// Applies pending migrations (up to `version`, or all).
    public func migrate(upTo version: String? = nil) throws {
        try guarded {
            if let version { try ManifestSchema.migrator().migrate(queue, upTo: version) }
            else { try ManifestSchema.migrator().migrate(queue) }
        }
    }

    /// Migration names recorded in the database, in order.
    public func appliedMigrations() throws -> [String] {
        try guarded { try queue.read { try ManifestSchema.migrator().appliedIdentifiers($0) }.sorted() }
    }

    static func now() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return f.string(from: Date())
    }

    // MARK: - Videos and clips

    public struct NewVideo {
        public var key: String
        public var path: String
        public var sha256: String
        public var bytes: Int64
        public var info: VideoInfo
        public var captions: [String]
        public var captionSource: String
        /// Where the video comes from; nil leaves `video.source_id` NULL.
        public var source: SourceInfo?
        public init(key: String, path: String, sha256: String, bytes: Int64, info: VideoInfo, captions: [String], captionSource: String,
                    source: SourceInfo? = nil) {
            self.key = key; self.path = path; self.sha256 = sha256; self.bytes = bytes; self.info = info
            self.captions = captions; self.captionSource = captionSource; self.source = source
        }
    }

    public struct AddResult: Equatable {
        public var videoID: Int64
        public var addedVideo: Bool
        public var clips: Int
        public var captions: Int
    }

    /// Whether a video with this key or path is already in the manifest (its id).
    public func videoID(key: String, path: String) throws -> Int64? {
        try guarded { try queue.read { db in
            try Int64.fetchOne(db, sql: "SELECT id FROM video WHERE key = ? OR path = ?", arguments: [key, path])
        } }
    }

    /// Adds a video, its clips (with 'pending' status) and captions in one transaction. A video already
    /// present (same key or path) keeps its clips; new captions are still added to it.
    @discardableResult
    public func addVideo(_ v: NewVideo, plan: ClipPlan) throws -> AddResult {
        try guarded { try queue.write { db in
            let stamp = Manifest.now()
            var result = AddResult(videoID: 0, addedVideo: false, clips: 0, captions: 0)
            let sourceID = try v.source.map { try Manifest.upsertSource($0, db) }
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM video WHERE key = ? OR path = ?", arguments: [v.key, v.path]) {
                result.videoID = id
                if let sourceID { try db.execute(sql: "UPDATE video SET source_id = ? WHERE id = ?", arguments: [sourceID, id]) }
            } else {
                try db.execute(sql: """
                    INSERT INTO video (key, path, sha256, bytes, duration, fps, width, height, frame_count, added_at, source_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [v.key, v.path, v.sha256, v.bytes, v.info.duration, v.info.fps,
                                     v.info.width, v.info.height, v.info.frameCount, stamp, sourceID])
                result.videoID = db.lastInsertedRowID
                result.addedVideo = true
                for w in plan.windows(duration: v.info.duration) {
                    try db.execute(sql: """
                        INSERT INTO clip (video_id, idx, start_seconds, duration_seconds, sample_fps, start_frame, frame_count, shard_key)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [result.videoID, w.index, w.startSeconds, w.durationSeconds, plan.sampleFps,
                                         w.startFrame, w.frameCount, StableKeys.shardKey(videoKey: v.key, clipIndex: w.index)])
                    try db.execute(sql: "INSERT INTO clip_status (clip_id, state, updated_at) VALUES (?, 'pending', ?)",
                                   arguments: [db.lastInsertedRowID, stamp])
                    result.clips += 1
                }
            }
            for text in v.captions {
                try db.execute(sql: "INSERT OR IGNORE INTO caption (video_id, clip_id, text, source) VALUES (?, NULL, ?, ?)",
                               arguments: [result.videoID, text, v.captionSource])
                result.captions += db.changesCount
            }
            return result
        } }
    }

    /// Inserts the source, or updates the fields it gives (a nil field keeps what is recorded). Returns its id.
    static func upsertSource(_ s: SourceInfo, _ db: Database) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO source (name, kind, package, licence) VALUES (?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET kind = ifnull(excluded.kind, kind), package = ifnull(excluded.package, package),
              licence = ifnull(excluded.licence, licence)
            """, arguments: [s.name, s.kind, s.package, s.licence])
        return try Int64.fetchOne(db, sql: "SELECT id FROM source WHERE name = ?", arguments: [s.name])!
    }

    /// The id of the source with this name, if the manifest has one.
    public func sourceID(name: String) throws -> Int64? {
        try guarded { try queue.read { try Int64.fetchOne($0, sql: "SELECT id FROM source WHERE name = ?", arguments: [name]) } }
    }

    /// Records a source (or updates it) without adding videos. Returns its id.
    @discardableResult
    public func addSource(_ s: SourceInfo) throws -> Int64 {
        try guarded { try queue.write { try Manifest.upsertSource(s, $0) } }
    }

    /// Sets the source of a video already in the manifest (a video added before its source was known).
    public func setSource(videoID: Int64, _ s: SourceInfo) throws {
        try guarded { try queue.write { db in
            let id = try Manifest.upsertSource(s, db)
            try db.execute(sql: "UPDATE video SET source_id = ? WHERE id = ?", arguments: [id, videoID])
        } }
    }

    /// Adds captions to a video already in the manifest (duplicates are ignored). Returns how many were new.
    @discardableResult
    public func addCaptions(videoID: Int64, captions: [String], source: String) throws -> Int {
        try guarded { try queue.write { db in
            var n = 0
            for text in captions {
                try db.execute(sql: "INSERT OR IGNORE INTO caption (video_id, clip_id, text, source) VALUES (?, NULL, ?, ?)",
                               arguments: [videoID, text, source])
                n += db.changesCount
            }
            return n
        } }
    }

    // MARK: - Split

    /// Assigns every clip the split of its video: 'val' when the video key's hash (with `seed`) falls
    /// below `valFraction`, else 'train'. Deterministic; re-running with the same arguments changes nothing.
    public func assignSplits(valFraction: Double, seed: UInt64) throws -> (trainVideos: Int, valVideos: Int) {
        try guarded { try queue.write { db in
            let videos = try Row.fetchAll(db, sql: "SELECT id, key FROM video")
            var train = 0, val = 0
            for row in videos {
                let id: Int64 = row["id"], key: String = row["key"]
                let isVal = StableKeys.isValidation(videoKey: key, valFraction: valFraction, seed: seed)
                if isVal { val += 1 } else { train += 1 }
                try db.execute(sql: "UPDATE clip SET split = ? WHERE video_id = ?", arguments: [isVal ? "val" : "train", id])
            }
            return (train, val)
        } }
    }
}
