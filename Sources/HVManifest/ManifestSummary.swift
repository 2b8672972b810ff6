// What `hv-manifest status` shows: counts of videos, clips by split and processing state, captions,
// embeddings per encoder, token files, shards and videos per source — read in one transaction so the numbers agree.
import Foundation
import GRDB

public struct ManifestSummary: Codable, Equatable {
    public var schemaVersion: String
    public var videos: Int
    public var videoSeconds: Double
    public var clips: Int
    /// split ("train", "val", "unassigned") → state ("pending", "running", "done", "failed") → count
    public var clipsBySplit: [String: [String: Int]]
    public var captions: Int
    /// encoder id → number of caption embeddings
    public var embeddings: [String: Int]
    public var tokenFiles: Int
    public var tokenBytes: Int64
    public var shards: Int
    /// Videos, seconds and clips per source, by name; videos without a source count under `SourceSummary.none`.
    /// Empty when no video has a source.
    public var sources: [SourceSummary]

    public static let states = ["pending", "running", "done", "failed"]
    public static let splits = ["train", "val", "unassigned"]
}

/// One source's line of the summary.
public struct SourceSummary: Codable, Equatable {
    public var name: String
    public var kind: String?
    public var package: String?
    public var licence: String?
    public var videos: Int
    public var videoSeconds: Double
    public var clips: Int

    /// The name under which videos without a source are counted.
    public static let none = "(none)"
}

extension Manifest {
    public func summary() throws -> ManifestSummary {
        try guarded { try queue.read { db in
            var bySplit: [String: [String: Int]] = [:]
            for s in ManifestSummary.splits { bySplit[s] = Dictionary(uniqueKeysWithValues: ManifestSummary.states.map { ($0, 0) }) }
            for row in try Row.fetchAll(db, sql: """
                SELECT ifnull(clip.split, 'unassigned') AS split, clip_status.state AS state, count(*) AS n
                FROM clip JOIN clip_status ON clip_status.clip_id = clip.id GROUP BY 1, 2
                """) {
                bySplit[row["split"], default: [:]][row["state"]] = row["n"]
            }
            var embeddings: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT encoder, count(*) AS n FROM caption_embedding GROUP BY encoder") {
                embeddings[row["encoder"]] = row["n"]
            }
            var sources: [SourceSummary] = []
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM video WHERE source_id IS NOT NULL)") ?? false {
                for row in try Row.fetchAll(db, sql: """
                    SELECT source.name, source.kind, source.package, source.licence, count(video.id) AS videos,
                      ifnull(sum(video.duration), 0) AS seconds,
                      ifnull(sum((SELECT count(*) FROM clip WHERE clip.video_id = video.id)), 0) AS clips
                    FROM video LEFT JOIN source ON source.id = video.source_id
                    GROUP BY video.source_id ORDER BY source.name IS NULL, source.name
                    """) {
                    sources.append(SourceSummary(name: row["name"] ?? SourceSummary.none, kind: row["kind"], package: row["package"],
                                                 licence: row["licence"], videos: row["videos"], videoSeconds: row["seconds"],
                                                 clips: row["clips"]))
                }
            }
            return ManifestSummary(
                schemaVersion: try ManifestSchema.migrator().appliedIdentifiers(db).sorted().last ?? "none",
                videos: try Int.fetchOne(db, sql: "SELECT count(*) FROM video") ?? 0,
                videoSeconds: try Double.fetchOne(db, sql: "SELECT ifnull(sum(duration), 0) FROM video") ?? 0,
                clips: try Int.fetchOne(db, sql: "SELECT count(*) FROM clip") ?? 0,
                clipsBySplit: bySplit,
                captions: try Int.fetchOne(db, sql: "SELECT count(*) FROM caption") ?? 0,
                embeddings: embeddings,
                tokenFiles: try Int.fetchOne(db, sql: "SELECT count(*) FROM token_file") ?? 0,
                tokenBytes: try Int64.fetchOne(db, sql: "SELECT ifnull(sum(bytes), 0) FROM token_file") ?? 0,
                shards: try Int.fetchOne(db, sql: "SELECT count(*) FROM shard") ?? 0,
                sources: sources)
        } }
    }
}
