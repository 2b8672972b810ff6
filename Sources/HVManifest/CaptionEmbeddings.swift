// Caption embeddings in the manifest: one row per (caption, encoder id) holding the vector as a BLOB of
// little-endian float32 (4 × dim bytes), so that sqlite3, Python (numpy.frombuffer(..., '<f4')) and
// Swift read the same numbers on any machine.
import Foundation
import GRDB

extension Manifest {
    /// Captions without an embedding for `encoder`, by id.
    public func captionsNeedingEmbedding(encoder: String) throws -> [(id: Int64, text: String)] {
        try guarded { try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, text FROM caption
                WHERE NOT EXISTS (SELECT 1 FROM caption_embedding e WHERE e.caption_id = caption.id AND e.encoder = ?)
                ORDER BY id
                """, arguments: [encoder]).map { (id: $0["id"], text: $0["text"]) }
        } }
    }

    /// Stores embeddings (one transaction for the batch; existing rows for the same encoder are replaced).
    public func storeEmbeddings(encoder: String, _ items: [(captionID: Int64, vector: [Float])]) throws {
        try guarded { try queue.write { db in
            let stamp = Manifest.now()
            for item in items {
                try db.execute(sql: """
                    INSERT OR REPLACE INTO caption_embedding (caption_id, encoder, dim, vector, created_at) VALUES (?, ?, ?, ?, ?)
                    """, arguments: [item.captionID, encoder, item.vector.count, Manifest.blob(item.vector), stamp])
            }
        } }
    }

    /// The stored embedding of a caption, or nil.
    public func embedding(captionID: Int64, encoder: String) throws -> [Float]? {
        try guarded { try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT vector FROM caption_embedding WHERE caption_id = ? AND encoder = ?",
                              arguments: [captionID, encoder]).map(Manifest.floats)
        } }
    }

    public static func blob(_ v: [Float]) -> Data {
        var d = Data(capacity: v.count * 4)
        for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        return d
    }

    public static func floats(_ d: Data) -> [Float] {
        let bytes = [UInt8](d)
        return stride(from: 0, to: bytes.count - 3, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }
}

/// One line of the training list `hv-manifest export` writes.
public struct TrainingItem: Codable, Equatable {
    public var clip: Int64
    public var video: String
    public var split: String?
    public var start: Double
    public var duration: Double
    public var frames: Int
    public var tokenFile: String?
    public var tokenizerHash: String?
    public var caption: String?
    public var captionID: Int64?
    /// Encoder id of the stored embedding of `captionID` (look it up in caption_embedding), or nil if none.
    public var embeddingEncoder: String?

    enum CodingKeys: String, CodingKey {
        case clip, video, split, start, duration, frames, caption
        case tokenFile = "token_file", tokenizerHash = "tokenizer_hash", captionID = "caption_id"
        case embeddingEncoder = "embedding_encoder"
    }
}

extension Manifest {
    /// Clips of `split` (nil: all) with their token file, caption (the clip's own, else the video's first)
    /// and embedding reference. With `onlyDone`, clips without a token file are left out.
    public func trainingList(split: String?, onlyDone: Bool, encoder: String?, tokenizerHash: String?) throws -> [TrainingItem] {
        var conditions: [String] = []
        var args: StatementArguments = []
        if let split { conditions.append("clip.split = ?"); args += [split] }
        if onlyDone { conditions.append("tf.path IS NOT NULL") }
        let tokenizerCondition = tokenizerHash == nil ? "" : "AND t.tokenizer_hash = ?"
        let sql = """
            SELECT clip.id, video.key, clip.split, clip.start_seconds, clip.duration_seconds, clip.frame_count,
                   tf.path AS token_path, tf.tokenizer_hash, cap.id AS caption_id, cap.text AS caption,
                   (SELECT e.encoder FROM caption_embedding e WHERE e.caption_id = cap.id
                      \(encoder == nil ? "" : "AND e.encoder = ?") ORDER BY e.encoder LIMIT 1) AS encoder
            FROM clip JOIN video ON video.id = clip.video_id
            LEFT JOIN token_file tf ON tf.rowid = (SELECT t.rowid FROM token_file t WHERE t.clip_id = clip.id \(tokenizerCondition)
                                                   ORDER BY t.created_at DESC LIMIT 1)
            LEFT JOIN caption cap ON cap.id = (SELECT c.id FROM caption c WHERE c.video_id = video.id
                                               AND (c.clip_id = clip.id OR c.clip_id IS NULL)
                                               ORDER BY c.clip_id IS NULL, c.id LIMIT 1)
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY clip.id
            """
        // Argument order follows the placeholders: tokenizer (join subquery) comes after the encoder (select list).
        var ordered: StatementArguments = []
        if let encoder { ordered += [encoder] }
        if let tokenizerHash { ordered += [tokenizerHash] }
        ordered += args
        return try guarded { try queue.read { db in
            try Row.fetchAll(db, sql: sql, arguments: ordered).map { r in
                TrainingItem(clip: r["id"], video: r["key"], split: r["split"], start: r["start_seconds"],
                             duration: r["duration_seconds"], frames: r["frame_count"], tokenFile: r["token_path"],
                             tokenizerHash: r["tokenizer_hash"], caption: r["caption"], captionID: r["caption_id"],
                             embeddingEncoder: r["encoder"])
            }
        } }
    }
}
