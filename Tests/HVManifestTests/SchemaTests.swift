// Schema creation, migration from v1 with data, refusal of foreign and newer files, and the format doc
// (formats/manifest.md) quoting every statement of the schema verbatim.
import Foundation
import GRDB
import XCTest
@testable import HVManifest

final class SchemaTests: ManifestTestCase {
    func testCreateAppliesAllMigrationsAndWAL() throws {
        let dir = try Fixtures.tempDir()
        let m = try Manifest(path: dir.appendingPathComponent("m.db").path, create: true)
        XCTAssertEqual(try m.appliedMigrations(), ["v1", "v2", "v3"])
        let mode = try m.queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(mode, "wal")
        let tables = try m.queue.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
        for t in ["video", "clip", "caption", "caption_embedding", "clip_status", "token_file", "shard", "source"] {
            XCTAssertTrue(tables.contains(t), "missing table \(t)")
        }
    }

    func testMigrationFromV1KeepsDataAndAddsPendingStatus() throws {
        let dir = try Fixtures.tempDir()
        let path = dir.appendingPathComponent("old.db").path
        // Build a v1-only manifest, as an older hv-manifest would have left it.
        do {
            let queue = try DatabaseQueue(path: path)
            try ManifestSchema.migrator().migrate(queue, upTo: "v1")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO video (key, path, sha256, bytes, duration, fps, width, height, added_at) VALUES ('k', '/v.mp4', 'x', 1, 16, 25, 64, 48, 'now')")
                for i in 0..<2 {
                    try db.execute(sql: "INSERT INTO clip (video_id, idx, start_seconds, duration_seconds, sample_fps, start_frame, frame_count, shard_key) VALUES (1, ?, ?, 8, 8, ?, 64, 7)",
                                   arguments: [i, i * 8, i * 64])
                }
            }
            let tables = try queue.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") }
            XCTAssertFalse(tables.contains("clip_status"))
        }
        let m = try Manifest(path: path)
        XCTAssertEqual(try m.appliedMigrations(), ["v1", "v2", "v3"])
        let s = try m.summary()
        XCTAssertEqual(s.clips, 2)
        XCTAssertEqual(s.clipsBySplit["unassigned"]?["pending"], 2)
        XCTAssertEqual(try m.clips().map(\.clipID), [1, 2])
    }

    func testNewerSchemaIsRefused() throws {
        let dir = try Fixtures.tempDir()
        let path = dir.appendingPathComponent("m.db").path
        let m = try Manifest(path: path, create: true)
        try m.queue.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99')") }
        XCTAssertThrowsError(try Manifest(path: path)) { e in
            guard case ManifestError.newerSchema = e else { return XCTFail("\(e)") }
            XCTAssertEqual((e as? ManifestError)?.exitCode, 65)
        }
    }

    func testMissingAndForeignFilesAreRefused() throws {
        let dir = try Fixtures.tempDir()
        XCTAssertThrowsError(try Manifest(path: dir.appendingPathComponent("none.db").path)) { e in
            XCTAssertEqual((e as? ManifestError)?.exitCode, 66)
        }
        let text = dir.appendingPathComponent("text.db")
        try "hello, not a database, but long enough to have a header of some sort.....................".write(to: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Manifest(path: text.path)) { e in
            guard case ManifestError.notAManifest = e else { return XCTFail("\(e)") }
        }
        let other = dir.appendingPathComponent("other.db").path
        let q = try DatabaseQueue(path: other)
        try q.write { try $0.execute(sql: "CREATE TABLE t (x)") }
        XCTAssertThrowsError(try Manifest(path: other)) { e in
            guard case ManifestError.notAManifest = e else { return XCTFail("\(e)") }
        }
    }

    /// formats/manifest.md must quote every schema statement exactly (indentation aside).
    func testFormatDocQuotesTheSchema() throws {
        let doc = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("formats/manifest.md"), encoding: .utf8)
        func squash(_ s: String) -> String { s.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ") }
        let flatDoc = squash(doc)
        for (name, statements) in ManifestSchema.migrations {
            XCTAssertTrue(doc.contains("| \(name) |"), "doc lacks the version row for \(name)")
            for sql in statements {
                XCTAssertTrue(flatDoc.contains(squash(sql) + ";"), "formats/manifest.md does not quote: \(sql.prefix(60))")
            }
        }
        for column in ["shard_key", "lease_until", "masked_fraction", "tokenizer_hash", "sha256", "source_id", "licence"] {
            XCTAssertTrue(doc.contains("`\(column)`"), "doc does not describe \(column)")
        }
    }
}
