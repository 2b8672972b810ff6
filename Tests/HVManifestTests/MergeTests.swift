// hv-manifest merge: copies of a manifest (one per machine or Slurm task) folded into the main one by their
// video keys and clip indices, idempotently, with the shards still to do as a Slurm --array list.
import Foundation
import GRDB
import XCTest
@testable import HVManifest

final class MergeTests: ManifestTestCase {
    func record(_ name: String) -> TokenFileRecord {
        TokenFileRecord(path: "/tokens/\(name).hvt", tokenizerHash: String(repeating: "a", count: 64), bytes: 100, bits: 800, maskedFraction: 0.5)
    }

    func testCopiesMergeByKeyOnceAndNameTheShardsLeft() throws {
        let dir = try Fixtures.tempDir()
        let main = dir.appendingPathComponent("main.db").path
        let m = try Fixtures.syntheticManifest(at: main, videos: 3, clipsPerVideo: 2)
        let clips = try m.clips()
        XCTAssertEqual(clips.count, 6)
        // Two machines copy the manifest; each records its own clips.
        // (A consistent copy of a live WAL database: VACUUM INTO, or sqlite3's .backup; not cp.)
        for name in ["a", "b"] {
            try m.queue.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [dir.appendingPathComponent("\(name).db").path]) }
        }
        let a = try Manifest(path: dir.appendingPathComponent("a.db").path), b = try Manifest(path: dir.appendingPathComponent("b.db").path)
        try a.markDone(clipID: clips[0].clipID, worker: "w1", tokenFile: record("c0"))
        try a.markDone(clipID: clips[1].clipID, worker: "w1", tokenFile: record("c1"))
        try b.markDone(clipID: clips[2].clipID, worker: "w2", tokenFile: record("c2"))
        try b.markFailed(clipID: clips[3].clipID, worker: "w2", error: "decode failed")
        try b.markFailed(clipID: clips[0].clipID, worker: "w2", error: "a failure of a clip done elsewhere")

        var r = try m.merge(from: dir.appendingPathComponent("a.db").path)
        XCTAssertEqual(r, MergeResult(done: 2, failed: 0, unchanged: 0))
        r = try m.merge(from: dir.appendingPathComponent("b.db").path)
        XCTAssertEqual(r, MergeResult(done: 1, failed: 1, unchanged: 0), "the failure of a clip done here is not taken")
        let states = Dictionary(uniqueKeysWithValues: try m.clips(states: ["pending", "done", "failed"]).map { ($0.clipID, $0.state) })
        XCTAssertEqual(clips.map { states[$0.clipID]! }, ["done", "done", "done", "failed", "pending", "pending"])
        XCTAssertEqual(try m.queue.read { try String.fetchAll($0, sql: "SELECT path FROM token_file ORDER BY clip_id") },
                       ["/tokens/c0.hvt", "/tokens/c1.hvt", "/tokens/c2.hvt"])

        // Idempotent: again, nothing changes.
        let before = try m.queue.read { try Row.fetchAll($0, sql: "SELECT * FROM clip_status ORDER BY clip_id") }
        XCTAssertEqual(try m.merge(from: dir.appendingPathComponent("a.db").path), MergeResult(done: 0, failed: 0, unchanged: 2))
        XCTAssertEqual(try m.merge(from: dir.appendingPathComponent("b.db").path), MergeResult(done: 0, failed: 0, unchanged: 1))
        XCTAssertEqual(try m.queue.read { try Row.fetchAll($0, sql: "SELECT * FROM clip_status ORDER BY clip_id") }, before)
        XCTAssertNil(try m.damage())

        // The shards still to do: those of the failed and pending clips.
        let left = Set(clips[3...].map { Int($0.shardKey % 10) })
        XCTAssertEqual(try m.shardsHolding(count: 10), left.sorted())

        // A copy of another dataset is refused, naming the clip.
        let other = try Fixtures.syntheticManifest(at: dir.appendingPathComponent("other.db").path, videos: 4, clipsPerVideo: 2)
        let otherClips = try other.clips()
        try other.markDone(clipID: otherClips.last!.clipID, worker: nil, tokenFile: record("x"))
        XCTAssertThrowsError(try m.merge(from: dir.appendingPathComponent("other.db").path)) {
            XCTAssertTrue("\($0)".contains("video 'video3'"), "\($0)")
        }
    }

    /// Recording a shard links its clips' token files in one transaction; a clip without a token file of that
    /// tokenizer is refused and nothing is recorded.
    func testRecordingAShardNeedsEveryClipsTokenFile() throws {
        let dir = try Fixtures.tempDir()
        let m = try Fixtures.syntheticManifest(at: dir.appendingPathComponent("m.db").path, videos: 1, clipsPerVideo: 3)
        let clips = try m.clips()
        try m.markDone(clipID: clips[0].clipID, worker: nil, tokenFile: record("c0"))
        try m.markDone(clipID: clips[1].clipID, worker: nil, tokenFile: record("c1"))
        let hash = String(repeating: "a", count: 64)
        XCTAssertThrowsError(try m.recordShard(path: "/s/shard-000000.tar", tokenizerHash: hash, split: nil, bytes: 300,
                                               clipIDs: [clips[0].clipID, clips[2].clipID]))
        XCTAssertEqual(try m.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM shard") }, 0)
        XCTAssertEqual(try m.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM token_file WHERE shard_id IS NOT NULL") }, 0)
        try m.recordShard(path: "/s/shard-000000.tar", tokenizerHash: hash, split: nil, bytes: 200, clipIDs: [clips[0].clipID, clips[1].clipID])
        XCTAssertEqual(try m.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM token_file WHERE shard_id IS NOT NULL") }, 2)
    }

    func testArrayListsCompressRuns() {
        XCTAssertEqual(arrayList([9, 1, 2, 3, 7, 10]), "1-3,7,9-10")
        XCTAssertEqual(arrayList([]), "")
        XCTAssertEqual(arrayList([4]), "4")
    }
}
