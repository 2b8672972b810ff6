// What `hv-manifest status` shows: counts of videos, clips by split and processing state, captions,
// embeddings per encoder, token files and shards — read in one transaction so the numbers agree.
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

    public static let states = ["pending", "running", "done", "failed"]
    public static let splits = ["train", "val", "unassigned"]
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
                shards: try Int.fetchOne(db, sql: "SELECT count(*) FROM shard") ?? 0)
        } }
    }
}
