// Reading packed token shards back (formats/shards.md): a split folder's index.json → its shards in index
// order → one sample per key in archive order, with the clip's KEY.json and KEY.hvt. What `hv-train lm --shards`
// trains on: the same token files and captions a user's PyTorch loader streams with `webdataset`, read with no
// manifest at hand (shards are what gets copied to a training machine).
import Foundation
import HVFormat

/// One sample of a token shard: what the clip is (KEY.json) and its token file (KEY.hvt, byte for byte).
public struct ShardSampleRecord {
    /// The sample key, the clip id zero-padded to 9 digits.
    public var key: String
    public var info: ShardSampleInfo
    public var hvt: [UInt8]
    /// The shard file it came from (for messages).
    public var shard: String
}

public enum TokenShards {
    /// The index.json that `path` names: the file itself, a split folder holding `index.json`, or the folder
    /// `hv-manifest pack --out` wrote, whose `split`/index.json is taken.
    public static func indexPath(_ path: String, split: String = "train") throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ManifestError.shardIndexMissing(path: path) }
        if !isDir.boolValue { return path }
        for candidate in [path + "/index.json", path + "/" + split + "/index.json"] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw ManifestError.shardIndexMissing(path: path)
    }

    /// Every sample of the shards that `index` lists, shard by shard in index order, samples in archive order.
    /// Checks what training relies on: each listed shard exists with the listed size and sample count, every
    /// sample has KEY.json and KEY.hvt, and every sample's tokenizer is the index's.
    public static func read(index: String) throws -> (tokenizerHash: String, samples: [ShardSampleRecord]) {
        guard let data = FileManager.default.contents(atPath: index) else {
            throw ManifestError.fileUnreadable(path: index, reason: "not readable")
        }
        let file: ShardIndexFile
        do { file = try JSONDecoder().decode(ShardIndexFile.self, from: data) }
        catch { throw ManifestError.badShard(path: index, reason: "not a shard index (wids-shard-index-v1 with tokenizer_hash and shardlist): \(error)") }
        guard file.kind == "wids-shard-index-v1" else { throw ManifestError.badShard(path: index, reason: "__kind__ is '\(file.kind)', not wids-shard-index-v1") }
        let folder = (index as NSString).deletingLastPathComponent
        var samples: [ShardSampleRecord] = []
        for entry in file.shardlist {
            let path = entry.url.hasPrefix("/") ? entry.url : (folder.isEmpty ? entry.url : folder + "/" + entry.url)
            guard FileManager.default.fileExists(atPath: path) else {
                throw ManifestError.badShard(path: path, reason: "listed in \(index) but missing")
            }
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ManifestError.fileUnreadable(path: path, reason: "not readable") }
            guard Int64(bytes.count) == entry.filesize else {
                throw ManifestError.badShard(path: path, reason: "\(bytes.count) bytes, the index says \(entry.filesize)")
            }
            let got = try samplesOfShard([UInt8](bytes), path: path, tokenizerHash: file.tokenizerHash)
            guard got.count == entry.nsamples else {
                throw ManifestError.badShard(path: path, reason: "\(got.count) samples, the index says \(entry.nsamples)")
            }
            samples += got
        }
        guard !samples.isEmpty else { throw ManifestError.badShard(path: index, reason: "it lists no samples") }
        return (file.tokenizerHash, samples)
    }

    /// The samples of one shard's bytes: members grouped by key (the base name up to its first dot).
    static func samplesOfShard(_ bytes: [UInt8], path: String, tokenizerHash: String) throws -> [ShardSampleRecord] {
        let members: [(name: String, data: [UInt8])]
        do { members = try TarReader.members(bytes, name: path) }
        catch let e as TarError { throw ManifestError.badShard(path: path, reason: e.description) }
        var out: [ShardSampleRecord] = []
        var key: String?
        var json: [UInt8]?, hvt: [UInt8]?
        func finish() throws {
            guard let k = key else { return }
            guard let json else { throw ManifestError.badShard(path: path, reason: "sample \(k) has no \(k).json") }
            guard let hvt else { throw ManifestError.badShard(path: path, reason: "sample \(k) has no \(k).hvt") }
            let info: ShardSampleInfo
            do { info = try JSONDecoder().decode(ShardSampleInfo.self, from: Data(json)) }
            catch { throw ManifestError.badShard(path: path, reason: "\(k).json is not a sample description: \(error)") }
            guard info.tokenizer.hasSuffix("@" + tokenizerHash) else {
                throw ManifestError.badShard(path: path, reason: "sample \(k) was made by \(info.tokenizer), the index says tokenizer \(tokenizerHash.prefix(12))")
            }
            out.append(ShardSampleRecord(key: k, info: info, hvt: hvt, shard: path))
        }
        var seen = Set<String>()
        for m in members {
            let base = (m.name as NSString).lastPathComponent
            guard let dot = base.firstIndex(of: "."), dot != base.startIndex else {
                throw ManifestError.badShard(path: path, reason: "member '\(m.name)' has no KEY.EXTENSION name")
            }
            let k = String(base[..<dot]), ext = String(base[base.index(after: dot)...])
            if k != key {
                try finish()
                guard seen.insert(k).inserted else { throw ManifestError.badShard(path: path, reason: "the members of sample \(k) are not consecutive") }
                key = k; json = nil; hvt = nil
            }
            if ext == "json" { json = m.data } else if ext == "hvt" { hvt = m.data }
        }
        try finish()
        return out
    }
}
