// Several writers on one manifest: threads with their own connections and separate processes claim and
// complete clips at once — every clip is done exactly once, no claim is lost or doubled, and no writer
// ever fails with "database is locked". Also: a worker killed mid-transaction leaves no half rows, and
// a clip claimed by a dead worker is claimable again once its lease expires.
import Foundation
import GRDB
import XCTest
@testable import HVManifest

final class ConcurrencyTests: ManifestTestCase {
    func testThreadsWithSeparateConnectionsLoseNothing() throws {
        let dir = try Fixtures.tempDir()
        let path = dir.appendingPathComponent("m.db").path
        _ = try Fixtures.syntheticManifest(at: path, videos: 30, clipsPerVideo: 4)   // 120 clips
        let workers = 4
        let lock = NSLock()
        var claimed: [Int64] = [], errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            do {
                let m = try Manifest(path: path)   // one connection per worker, like separate processes
                while let c = try m.claim(worker: "w\(w)", lease: 600) {
                    try m.markDone(clipID: c.clipID, worker: "w\(w)", tokenFile: TokenFileRecord(
                        path: "/tok/\(c.clipID).hvt", tokenizerHash: "t", bytes: 10, bits: 80, maskedFraction: 0.5))
                    lock.lock(); claimed.append(c.clipID); lock.unlock()
                }
            } catch {
                lock.lock(); errors.append("\(error)"); lock.unlock()
            }
        }
        XCTAssertEqual(errors, [])
        XCTAssertEqual(claimed.count, 120)
        XCTAssertEqual(Set(claimed).count, 120, "a clip was claimed twice")
        let s = try Manifest(path: path).summary()
        XCTAssertEqual(s.clipsBySplit["unassigned"]?["done"], 120)
        XCTAssertEqual(s.tokenFiles, 120)
        let attempts = try Manifest(path: path).queue.read { try Int.fetchOne($0, sql: "SELECT max(attempts) FROM clip_status") }
        XCTAssertEqual(attempts, 1)
    }

    func testTwoWorkerProcessesLoseNothing() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let dir = try Fixtures.tempDir()
        let path = dir.appendingPathComponent("m.db").path
        _ = try Fixtures.syntheticManifest(at: path, videos: 10, clipsPerVideo: 3)   // 30 clips
        // Each worker: claim a clip, record a token file, repeat until nothing is left; log what it did.
        let script = """
            while line=$("$1" claim "$2" --worker "$3"); [ -n "$line" ]; do
              id=${line%%\t*}
              "$1" done "$2" "$id" --token-file "/tok/$id.hvt" --tokenizer-hash t --bytes 10 --bits 80 --worker "$3" || exit 9
              echo "$id" >> "$4"
            done
            """
        let procs = (0..<2).map { w -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", script, "bash", tool, path, "p\(w)", dir.appendingPathComponent("log\(w)").path]
            let err = Pipe(); p.standardError = err
            return p
        }
        for p in procs { try p.run() }
        var stderrs: [String] = []
        for p in procs {
            stderrs.append(String(decoding: (p.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
        }
        XCTAssertEqual(stderrs.joined(), "", "a worker reported an error")
        let ids = (0..<2).flatMap { w -> [String] in
            ((try? String(contentsOf: dir.appendingPathComponent("log\(w)"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(ids.count, 30)
        XCTAssertEqual(Set(ids).count, 30)
        let s = try Manifest(path: path).summary()
        XCTAssertEqual(s.clipsBySplit["unassigned"]?["done"], 30)
        XCTAssertEqual(s.tokenFiles, 30)
    }

    func testKilledWriterLeavesNoHalfRows() throws {
        let dir = try Fixtures.tempDir()
        let path = dir.appendingPathComponent("m.db").path
        _ = try Fixtures.syntheticManifest(at: path, videos: 1, clipsPerVideo: 2)
        // A writer (the sqlite3 shell) inserts a video, its clip and status row in one transaction, says
        // so, and is killed with SIGKILL before it commits.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", path]
        let input = Pipe(), output = Pipe()
        p.standardInput = input; p.standardOutput = output; p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("sqlite3 shell not installed") }
        input.fileHandleForWriting.write(Data("""
            PRAGMA busy_timeout = 30000;
            BEGIN IMMEDIATE;
            INSERT INTO video (key, path, sha256, bytes, duration, fps, width, height, added_at) VALUES ('half', '/half.mp4', 'x', 1, 8, 8, 8, 8, 'now');
            INSERT INTO clip (video_id, idx, start_seconds, duration_seconds, sample_fps, start_frame, frame_count, shard_key) VALUES (last_insert_rowid(), 0, 0, 8, 8, 0, 64, 1);
            INSERT INTO clip_status (clip_id, state, updated_at) VALUES (last_insert_rowid(), 'pending', 'now');
            SELECT 'inside';

            """.utf8))
        // Wait until the shell is inside the transaction.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("inside") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        XCTAssertTrue(String(decoding: seen, as: UTF8.self).contains("inside"))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)

        // Nothing of the killed transaction survives, and the manifest is immediately writable again.
        let m = try Manifest(path: path, busyTimeout: 5)
        let s = try m.summary()
        XCTAssertEqual(s.videos, 1); XCTAssertEqual(s.clips, 2)
        XCTAssertNil(try m.videoID(key: "half", path: "/half.mp4"))
        XCTAssertNotNil(try m.claim(worker: "after", lease: 60))
        let check = try m.queue.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        XCTAssertEqual(check, "ok")
        // Every clip has its status row (no clip without status, no status without clip).
        let orphans = try m.queue.read { try Int.fetchOne($0, sql: """
            SELECT (SELECT count(*) FROM clip WHERE id NOT IN (SELECT clip_id FROM clip_status))
                 + (SELECT count(*) FROM clip_status WHERE clip_id NOT IN (SELECT id FROM clip))
            """) }
        XCTAssertEqual(orphans, 0)
    }

    func testDeadWorkersClaimExpiresAndIsReclaimed() throws {
        let dir = try Fixtures.tempDir()
        let m = try Fixtures.syntheticManifest(at: dir.appendingPathComponent("m.db").path, videos: 1, clipsPerVideo: 1)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let first = try XCTUnwrap(m.claim(worker: "dead", lease: 100, now: t0))
        XCTAssertNil(try m.claim(worker: "live", lease: 100, now: t0.addingTimeInterval(50)), "lease still valid")
        let again = try XCTUnwrap(m.claim(worker: "live", lease: 100, now: t0.addingTimeInterval(101)))
        XCTAssertEqual(again.clipID, first.clipID)
        XCTAssertEqual(again.attempts, 2)
        try m.markFailed(clipID: again.clipID, worker: "live", error: "decoder crashed")
        XCTAssertNil(try m.claim(worker: "x", lease: 100, now: t0.addingTimeInterval(1000)), "failed clips wait for reset")
        XCTAssertEqual(try m.clips(states: ["failed"]).count, 1)
        XCTAssertEqual(try m.reset(states: ["failed"]), 1)
        XCTAssertNotNil(try m.claim(worker: "x", lease: 100))
        XCTAssertThrowsError(try m.markDone(clipID: 999, worker: nil, tokenFile: TokenFileRecord(path: "p", tokenizerHash: "t", bytes: 1, bits: 8, maskedFraction: 0))) { e in
            XCTAssertEqual((e as? ManifestError)?.exitCode, 65)
        }
    }
}
