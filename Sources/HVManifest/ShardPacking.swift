// Packing done clips into WebDataset token shards (formats/shards.md): DIR/SPLIT/shard-NNNNNN.tar, each written
// under a temporary name and renamed when complete, then recorded in the manifest (shard row + token_file.shard_id,
// one transaction); DIR/SPLIT/index.json (wids' shard-index format) lists the recorded shards with their counts.
// What `hv-manifest pack` and `make pretokenize` run. One packer per folder at a time (a lock file).
import Foundation
import GRDB
import HVFormat

public struct PackOptions {
    public var directory: String
    /// Token files of this tokenizer; nil: the one tokenizer that has unpacked token files.
    public var tokenizerHash: String?
    public var shards: ShardSelector?
    public var clipsPerShard: Int
    /// Encoder id of the caption embeddings written as KEY.txtemb.npy.
    public var encoder: String

    public init(directory: String, tokenizerHash: String? = nil, shards: ShardSelector? = nil, clipsPerShard: Int = 1000,
                encoder: String = "sentence-transformers/all-MiniLM-L6-v2") {
        self.directory = directory; self.tokenizerHash = tokenizerHash; self.shards = shards
        self.clipsPerShard = clipsPerShard; self.encoder = encoder
    }
}

public struct PackedShard: Equatable {
    public var path: String
    public var split: String?
    public var clips: Int
    public var bytes: Int64
}

public struct PackResult: Equatable {
    public var written: [PackedShard] = []
    /// Recorded shards dropped because some of their clips were re-done since (their other clips were packed again).
    public var dropped: [String] = []
    public var clips: Int { written.reduce(0) { $0 + $1.clips } }
}

/// The shard-index file of one split folder: wids' "wids-shard-index-v1" (webdataset's indexed reader reads it;
/// urls are relative to the file), plus the split, tokenizer and total.
struct ShardIndexFile: Codable, Equatable {
    struct Entry: Codable, Equatable { var url: String; var nsamples: Int; var filesize: Int64 }
    var kind = "wids-shard-index-v1"
    var widsVersion = 1
    var name: String
    var tokenizerHash: String
    var nsamples: Int
    var shardlist: [Entry]
    enum CodingKeys: String, CodingKey {
        case name, nsamples, shardlist
        case kind = "__kind__", widsVersion = "wids_version", tokenizerHash = "tokenizer_hash"
    }
}

extension Manifest {
    static let splitFolders = ["train", "val", "none"]

    /// Packs every done clip whose token file (of the chosen tokenizer) is in no shard yet. Returns what was written.
    @discardableResult
    public func packShards(_ o: PackOptions, progress: (PackedShard) -> Void = { _ in }) throws -> PackResult {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: o.directory, withIntermediateDirectories: true) }
        catch { throw ManifestError.writeFailed(path: o.directory, reason: "cannot create the folder") }
        let dir = URL(fileURLWithPath: o.directory).standardizedFileURL.resolvingSymlinksInPath().path
        let lock = try PackLock(path: dir + "/.pack.lock")
        defer { lock.release() }
        for s in Manifest.splitFolders { removeDeadTemporaries(in: dir + "/" + s) }

        let hash = try o.tokenizerHash ?? packTokenizer(shards: o.shards)
        var result = PackResult()
        guard let hash else { return result }
        result.dropped = try dropStaleShards(in: dir, tokenizerHash: hash)
        // The indexes follow the manifest's shard rows even when a bad token file stops the run: the shards
        // recorded before it are listed, dropped ones are not.
        func finish() throws {
            for s in Manifest.splitFolders { try writeShardIndex(folder: dir + "/" + s, tokenizerHash: hash) }
            // A dropped shard's file goes only once no index lists it, unless a new shard took its name.
            for p in result.dropped where !result.written.contains(where: { $0.path == p }) { unlink(p) }
        }
        do {
            let rows = try packRows(tokenizerHash: hash, shards: o.shards)
            var next = try nextShardNumbers(in: dir)
            var i = 0
            while i < rows.count {
                let split = rows[i].split
                var j = i
                while j < rows.count && rows[j].split == split && j - i < o.clipsPerShard { j += 1 }
                let folder = dir + "/" + (split ?? "none")
                let number = next[split ?? "none", default: 0]
                next[split ?? "none"] = number + 1
                let shard = try writeShard(rows: Array(rows[i..<j]), folder: folder, number: number, tokenizerHash: hash, encoder: o.encoder)
                result.written.append(shard)
                progress(shard)
                i = j
            }
        } catch {
            try? finish()
            throw error
        }
        try finish()
        return result
    }

    /// The tokenizer of the unpacked done token files; nil when there are none; an error when there are several.
    func packTokenizer(shards: ShardSelector?) throws -> String? {
        let hashes = try guarded { try queue.read { db in
            try String.fetchAll(db, sql: """
                SELECT DISTINCT t.tokenizer_hash FROM token_file t JOIN clip ON clip.id = t.clip_id
                JOIN clip_status s ON s.clip_id = clip.id
                WHERE t.shard_id IS NULL AND s.state = 'done' \(shards.map { "AND " + $0.sql } ?? "") ORDER BY 1
                """)
        } }
        if hashes.count > 1 { throw ManifestError.tokenizerAmbiguous(hashes: hashes) }
        return hashes.first
    }

    /// Clips to pack: done, token file of `tokenizerHash` in no shard; by split (NULL first), then clip id.
    /// The caption is the clip's own, else its video's first (as in `export`); `captions` lists all of the clip's
    /// own, else all of its video's, that one first.
    func packRows(tokenizerHash: String, shards: ShardSelector?) throws -> [PackRow] {
        try guarded { try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT clip.id, clip.split, video.key, clip.idx, clip.start_seconds, clip.duration_seconds, clip.frame_count,
                       t.path, t.bytes, cap.id AS caption_id, cap.text
                FROM token_file t JOIN clip ON clip.id = t.clip_id JOIN video ON video.id = clip.video_id
                JOIN clip_status s ON s.clip_id = clip.id
                LEFT JOIN caption cap ON cap.id = (SELECT c.id FROM caption c WHERE c.video_id = video.id
                                                   AND (c.clip_id = clip.id OR c.clip_id IS NULL)
                                                   ORDER BY c.clip_id IS NULL, c.id LIMIT 1)
                WHERE t.shard_id IS NULL AND t.tokenizer_hash = ? AND s.state = 'done' \(shards.map { "AND " + $0.sql } ?? "")
                ORDER BY clip.split, clip.id
                """, arguments: [tokenizerHash]).map { r in
                PackRow(clipID: r[0], split: r[1], video: r[2], clipIndex: r[3], start: r[4], duration: r[5], frames: r[6],
                        tokenPath: r[7], tokenBytes: r[8], captionID: r[9], caption: r[10])
            }.map { row in
                // Every phrasing the clip is known by, the packed caption first: a generator trains on all of them.
                var row = row
                row.captions = try String.fetchAll(db, sql: """
                    SELECT c.text FROM caption c JOIN clip ON clip.id = ?
                    WHERE c.video_id = clip.video_id AND (c.clip_id = clip.id OR (c.clip_id IS NULL AND NOT EXISTS
                          (SELECT 1 FROM caption o WHERE o.clip_id = clip.id)))
                    ORDER BY c.clip_id IS NULL, c.id
                    """, arguments: [row.clipID])
                return row
            }
        } }
    }

    /// Shards recorded under `dir`: (id, path, tokenizer, recorded clip count, clips that still link to it).
    private func recordedShards(in dir: String) throws -> [(id: Int64, path: String, hash: String, count: Int, linked: Int)] {
        try guarded { try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, path, tokenizer_hash, clip_count, (SELECT count(*) FROM token_file t WHERE t.shard_id = shard.id)
                FROM shard WHERE substr(path, 1, ?) = ? ORDER BY path
                """, arguments: [dir.utf8.count + 1, dir + "/"]).map { (id: $0[0], path: $0[1], hash: $0[2], count: $0[3], linked: $0[4]) }
        } }
    }

    /// Refuses a folder of another tokenizer; deletes the rows of shards that lost clips (a clip re-done with a new
    /// token file since it was packed), so that their remaining clips are packed again and no clip is in two shards.
    private func dropStaleShards(in dir: String, tokenizerHash: String) throws -> [String] {
        let recorded = try recordedShards(in: dir)
        if let other = recorded.first(where: { $0.hash != tokenizerHash }) {
            throw ManifestError.mixedTokenizers(folder: dir, found: other.hash, wanted: tokenizerHash)
        }
        let stale = recorded.filter { $0.linked != $0.count }
        guard !stale.isEmpty else { return [] }
        try guarded { try queue.write { db in
            for s in stale { try db.execute(sql: "DELETE FROM shard WHERE id = ?", arguments: [s.id]) }
        } }
        return stale.map(\.path)
    }

    /// Per split folder, the number after the highest recorded shard-NNNNNN.tar in it (0 for none).
    private func nextShardNumbers(in dir: String) throws -> [String: Int] {
        var next: [String: Int] = [:]
        for s in try recordedShards(in: dir) {
            let parts = s.path.dropFirst(dir.count + 1).split(separator: "/")
            guard parts.count == 2, let n = Manifest.shardNumber(String(parts[1])) else { continue }
            next[String(parts[0])] = max(next[String(parts[0])] ?? 0, n + 1)
        }
        return next
    }

    static func shardName(_ n: Int) -> String {
        let s = String(n)
        return "shard-" + String(repeating: "0", count: max(0, 6 - s.count)) + s + ".tar"
    }

    static func shardNumber(_ name: String) -> Int? {
        guard name.hasPrefix("shard-"), name.hasSuffix(".tar") else { return nil }
        return Int(name.dropFirst(6).dropLast(4))
    }

    /// Writes one shard under a temporary name, renames it into place, then records it.
    private func writeShard(rows: [PackRow], folder: String, number: Int, tokenizerHash: String, encoder: String) throws -> PackedShard {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        catch { throw ManifestError.writeFailed(path: folder, reason: "cannot create the folder") }
        let path = folder + "/" + Manifest.shardName(number)
        let temp = folder + "/." + Manifest.shardName(number) + ".tmp.\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ManifestError.writeFailed(path: temp, reason: String(cString: strerror(errno))) }
        var renamed = false
        defer { if !renamed { close(fd); unlink(temp) } }
        let tar = TarWriter { bytes in try Manifest.writeAll(fd, bytes, path: temp) }
        for row in rows {
            let hvt = try Manifest.readTokenFile(row)
            let embedding = try row.captionID.flatMap { try self.embedding(captionID: $0, encoder: encoder) }.map { (encoder: encoder, vector: $0) }
            do {
                for m in try ShardSample.members(row: row, hvt: hvt, tokenizerHash: tokenizerHash, embedding: embedding) {
                    try tar.append(name: m.name, data: m.data)
                }
            } catch let e as TarError { throw ManifestError.writeFailed(path: temp, reason: e.description) }
        }
        try tar.finish()
        guard fsync(fd) == 0 else { throw ManifestError.writeFailed(path: temp, reason: String(cString: strerror(errno))) }
        close(fd)
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp); renamed = true
            throw ManifestError.writeFailed(path: path, reason: reason)
        }
        renamed = true
        let split = rows[0].split
        try recordShard(path: path, tokenizerHash: tokenizerHash, split: split, bytes: Int64(tar.count), clipIDs: rows.map(\.clipID))
        return PackedShard(path: path, split: split, clips: rows.count, bytes: Int64(tar.count))
    }

    static func readTokenFile(_ row: PackRow) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: row.tokenPath) else {
            throw ManifestError.tokenFileMissing(clip: row.clipID, path: row.tokenPath)
        }
        guard let d = FileManager.default.contents(atPath: row.tokenPath) else {
            throw ManifestError.fileUnreadable(path: row.tokenPath, reason: "read failed")
        }
        return [UInt8](d)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var off = 0
        try bytes.withUnsafeBytes { buf in
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ManifestError.writeFailed(path: path, reason: String(cString: strerror(errno)))
                }
                off += n
            }
        }
    }

    /// Rewrites FOLDER/index.json from the manifest's shard rows of that folder (temporary file + rename), if it
    /// changed; a folder without recorded shards gets none.
    func writeShardIndex(folder: String, tokenizerHash: String) throws {
        let rows = try recordedShards(in: folder)
        let indexPath = folder + "/index.json"
        guard !rows.isEmpty else { unlink(indexPath); return }
        let entries = try guarded { try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT path, clip_count, bytes FROM shard WHERE substr(path, 1, ?) = ? ORDER BY path",
                             arguments: [folder.utf8.count + 1, folder + "/"]).map { r -> ShardIndexFile.Entry in
                let p: String = r[0]
                return .init(url: String(p.dropFirst(folder.count + 1)), nsamples: r[1], filesize: r[2])
            }
        } }
        let index = ShardIndexFile(name: (folder as NSString).lastPathComponent, tokenizerHash: tokenizerHash,
                                   nsamples: entries.reduce(0) { $0 + $1.nsamples }, shardlist: entries)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try e.encode(index) + Data("\n".utf8)
        if FileManager.default.contents(atPath: indexPath) == data { return }
        let temp = folder + "/.index.json.tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: temp, contents: data), rename(temp, indexPath) == 0 else {
            unlink(temp)
            throw ManifestError.writeFailed(path: indexPath, reason: String(cString: strerror(errno)))
        }
    }

    /// Removes `.NAME.tmp.PID` files in `folder` whose process is gone (a packer killed with SIGKILL).
    func removeDeadTemporaries(in folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(".") && name.contains(".tmp.") {
            guard let pid = Int32(name.components(separatedBy: ".tmp.").last ?? ""), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(folder + "/" + name) }
        }
    }
}

/// An exclusive flock(2) on a file in the shard folder, held for a whole pack: two packers on one folder would
/// pick the same shard numbers.
final class PackLock {
    private let fd: Int32
    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ManifestError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ManifestError.writeFailed(path: path, reason: "cannot lock: \(reason)")
        }
    }
    func release() { close(fd) }
}
