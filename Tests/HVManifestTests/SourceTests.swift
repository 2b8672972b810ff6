// Provenance (schema v3): migrating a v2 manifest keeps its videos and gives them no source; sources from metadata
// columns and from --source; per-source counts in status and list; bad provenance input is refused.
import Foundation
import GRDB
import XCTest
@testable import HVManifest

final class SourceTests: ManifestTestCase {
    func testMigrationFromV2KeepsVideosWithoutSource() throws {
        let dir = try Fixtures.tempDir()
        let path = dir.appendingPathComponent("v2.db").path
        // A v2 manifest with a video, a clip and a finished token file, as the previous hv-manifest left it.
        do {
            let queue = try DatabaseQueue(path: path)
            try ManifestSchema.migrator().migrate(queue, upTo: "v2")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO video (key, path, sha256, bytes, duration, fps, width, height, added_at) VALUES ('k', '/v.mp4', 'x', 1, 8, 25, 64, 48, 'now')")
                try db.execute(sql: "INSERT INTO clip (video_id, idx, start_seconds, duration_seconds, sample_fps, start_frame, frame_count, shard_key) VALUES (1, 0, 0, 8, 8, 0, 64, 7)")
                try db.execute(sql: "INSERT INTO clip_status (clip_id, state, updated_at) VALUES (1, 'done', 'now')")
            }
            let columns = try queue.read { try $0.columns(in: "video").map(\.name) }
            XCTAssertFalse(columns.contains("source_id"))
        }
        let m = try Manifest(path: path)
        XCTAssertEqual(try m.appliedMigrations(), ["v1", "v2", "v3"])
        let row = try m.queue.read { try Row.fetchOne($0, sql: "SELECT key, source_id FROM video") }!
        XCTAssertEqual(row["key"] as String, "k")
        XCTAssertNil(row["source_id"] as Int64?)
        let s = try m.summary()
        XCTAssertEqual(s.clipsBySplit["unassigned"]?["done"], 1)
        XCTAssertEqual(s.sources, [], "no video has a source yet: no per-source lines")

        // The migrated manifest takes sources; an existing video gets one, and the counts split by source.
        try m.setSource(videoID: 1, SourceInfo(name: "old", kind: "real", package: "pkg", licence: "MIT"))
        try m.addVideo(Manifest.NewVideo(key: "n", path: "/n.mp4", sha256: "y", bytes: 1, info: VideoInfo(duration: 16, fps: 25, width: 64, height: 48),
                                         captions: [], captionSource: "test"), plan: ClipPlan())
        let after = try m.summary()
        XCTAssertEqual(after.sources.map(\.name), ["old", SourceSummary.none])
        XCTAssertEqual(after.sources.map(\.clips), [1, 2])
        XCTAssertEqual(after.sources.first?.licence, "MIT")
        // Deleting a source leaves its videos, without a source.
        try m.queue.write { try $0.execute(sql: "DELETE FROM source") }
        XCTAssertNil(try m.queue.read { try Int64.fetchOne($0, sql: "SELECT source_id FROM video WHERE key = 'k'") })
    }

    func testSourceIsUpsertedAndGivenFieldsWin() throws {
        let dir = try Fixtures.tempDir()
        let m = try Manifest(path: dir.appendingPathComponent("m.db").path, create: true)
        let a = try m.addSource(SourceInfo(name: "mate", kind: "photo", package: "mate-backgrounds", licence: nil))
        let b = try m.addSource(SourceInfo(name: "mate", licence: "GPL-2+"))
        XCTAssertEqual(a, b)
        let row = try m.queue.read { try Row.fetchOne($0, sql: "SELECT kind, package, licence FROM source WHERE name = 'mate'") }!
        XCTAssertEqual(row["kind"] as String, "photo")
        XCTAssertEqual(row["package"] as String, "mate-backgrounds")
        XCTAssertEqual(row["licence"] as String, "GPL-2+")
        XCTAssertEqual(try m.sourceID(name: "mate"), a)
        XCTAssertNil(try m.sourceID(name: "other"))
    }

    func testMetadataSourceColumns() throws {
        let dir = try Fixtures.tempDir()
        let csv = dir.appendingPathComponent("m.csv")
        try "path,caption,source,kind,package,license\na.mp4,x,opencv-doc,real,opencv-doc,BSD-3-Clause\nb.mp4,y,,,,\nc.mp4,z,opencv-doc,real,opencv-doc,BSD-3-Clause\n"
            .write(to: csv, atomically: true, encoding: .utf8)
        let rows = try MetadataFile.read(csv.path)
        XCTAssertEqual(rows.map(\.source), [SourceInfo(name: "opencv-doc", kind: "real", package: "opencv-doc", licence: "BSD-3-Clause"), nil,
                                            SourceInfo(name: "opencv-doc", kind: "real", package: "opencv-doc", licence: "BSD-3-Clause")])
        XCTAssertEqual(rows.map(\.caption), ["x", "y", "z"], "provenance columns are not taken for captions")

        let conflict = dir.appendingPathComponent("conflict.csv")
        try "path,source,licence\na.mp4,s,MIT\nb.mp4,s,GPL-2+\n".write(to: conflict, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MetadataFile.read(conflict.path)) { e in
            guard case let ManifestError.metadataBadRow(_, line, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(line, 3)
        }
        let orphan = dir.appendingPathComponent("orphan.jsonl")
        try #"{"path": "a.mp4", "licence": "MIT"}"#.write(to: orphan, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MetadataFile.read(orphan.path)) { e in
            XCTAssertEqual((e as? ManifestError)?.exitCode, 65)
        }
    }

    func testToolAddsVideosWithSourcesAndCountsThem() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let data = try Fixtures.dataset()
        let db = data.appendingPathComponent("m.db").path
        try """
            id,path,caption,source,kind,package,licence
            a,videos/a.mp4,test pattern,testsrc,synthetic,ffmpeg,LGPL-2.1+
            b,videos/b.mp4,test pattern,testsrc,synthetic,ffmpeg,LGPL-2.1+

            """.write(to: data.appendingPathComponent("sources.csv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try Fixtures.run(tool, ["init", db]).status, 0)
        let add = try Fixtures.run(tool, ["add", db, "--metadata", data.appendingPathComponent("sources.csv").path])
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertTrue(add.stderr.contains("added 2 videos, 4 clips"), add.stderr)
        // --source for videos without a source column; c.mp4 is too short for a clip but still a video of the source.
        let c = try Fixtures.run(tool, ["add", db, "--dir", data.appendingPathComponent("videos").path, "--source", "short",
                                        "--kind", "synthetic", "--licence", "CC0-1.0"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let m = try Manifest(path: db)
        XCTAssertEqual(try m.queue.read { try String.fetchAll($0, sql: "SELECT name FROM source ORDER BY name") }, ["short", "testsrc"])
        // a.mp4 and b.mp4 were already present under other keys (same path): --source moves them to "short".
        let bySource = try m.summary().sources
        XCTAssertEqual(bySource.map(\.name), ["short"])
        XCTAssertEqual(bySource.first?.videos, 3)

        // Back to the metadata's sources, then status and list show them.
        XCTAssertEqual(try Fixtures.run(tool, ["add", db, "--metadata", data.appendingPathComponent("sources.csv").path]).status, 0)
        let status = try Fixtures.run(tool, ["status", db])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("sources       name"), status.stdout)
        XCTAssertTrue(status.stdout.range(of: #"testsrc\s+synthetic\s+2\s+4  LGPL-2\.1\+"#, options: .regularExpression) != nil, status.stdout)
        XCTAssertTrue(status.stdout.range(of: #"short\s+synthetic\s+1\s+0  CC0-1\.0"#, options: .regularExpression) != nil, status.stdout)
        let json = try Fixtures.run(tool, ["status", db, "--json"])
        XCTAssertTrue(json.stdout.contains("\"sources\""), json.stdout)
        let lines = try Fixtures.run(tool, ["list", db, "--sources"])
        XCTAssertEqual(lines.stdout, "short\tsynthetic\t\tCC0-1.0\t1\t0\ntestsrc\tsynthetic\tffmpeg\tLGPL-2.1+\t2\t4\n")
        let clips = try Fixtures.run(tool, ["list", db, "--source", "testsrc"])
        XCTAssertEqual(clips.stdout.split(separator: "\n").count, 4)
        XCTAssertEqual(try Fixtures.run(tool, ["list", db, "--source", "short"]).stdout, "")

        // Bad input: a one-line error and a sysexits code.
        let unknown = try Fixtures.run(tool, ["list", db, "--source", "nope"])
        XCTAssertEqual(unknown.status, 65)
        XCTAssertEqual(unknown.stderr, "hv-manifest: error: no source named 'nope' in the manifest; 'hv-manifest list DB --sources' lists them\n")
        let orphan = try Fixtures.run(tool, ["add", db, "--dir", data.path, "--licence", "MIT"])
        XCTAssertEqual(orphan.status, 64)
        XCTAssertTrue(orphan.stderr.hasPrefix("hv-manifest: error: --kind, --package and --licence describe a source"), orphan.stderr)
    }
}
