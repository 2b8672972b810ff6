// Caption search: the stored caption embeddings of one encoder as a matrix, ranked by cosine similarity to a
// query vector (brute force: one dot product per caption, then the k best), and the clips each caption
// describes. `hv-manifest search` embeds the query text with the same encoder (HVText's MiniLMEncoder) first.
import Foundation
import GRDB

/// Unit-length caption embeddings, one row per caption: vectors[i * dim ..< (i + 1) * dim] belongs to ids[i].
public struct CaptionMatrix {
    public var ids: [Int64]
    public var dim: Int
    public var vectors: [Float]

    /// Rows are normalised here, so that a dot product is the cosine whatever the encoder stored.
    public init(ids: [Int64], dim: Int, vectors: [Float]) {
        precondition(vectors.count == ids.count * dim, "CaptionMatrix: \(vectors.count) values for \(ids.count) × \(dim)")
        self.ids = ids; self.dim = dim; self.vectors = vectors
        self.vectors.withUnsafeMutableBufferPointer { v in
            for i in 0..<ids.count { CaptionMatrix.normalise(v.baseAddress! + i * dim, dim) }
        }
    }

    static func normalise(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var ss: Float = 0
        for j in 0..<n { ss += p[j] * p[j] }
        let inv = 1 / max(ss.squareRoot(), 1e-12)
        for j in 0..<n { p[j] *= inv }
    }

    /// The `k` rows most similar to `query` (cosine), best first; ties by caption id. `query.count` must be `dim`.
    public func nearest(_ query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        precondition(query.count == dim, "query has \(query.count) dimensions, the matrix \(dim)")
        var q = query
        q.withUnsafeMutableBufferPointer { CaptionMatrix.normalise($0.baseAddress!, dim) }
        let n = ids.count
        var scores = [Float](repeating: 0, count: n)
        vectors.withUnsafeBufferPointer { v in
            q.withUnsafeBufferPointer { qp in
                for i in 0..<n {
                    let row = v.baseAddress! + i * dim
                    var s: Float = 0
                    for j in 0..<dim { s += row[j] * qp[j] }
                    scores[i] = s
                }
            }
        }
        // The k best by a bounded insertion list: k is small, n large.
        let k = min(k, n)
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        func better(_ a: Int, _ b: Int) -> Bool { scores[a] > scores[b] || (scores[a] == scores[b] && ids[a] < ids[b]) }
        for i in 0..<n {
            if best.count == k, let last = best.last, !better(i, last) { continue }
            var pos = best.count
            while pos > 0 && better(i, best[pos - 1]) { pos -= 1 }
            best.insert(i, at: pos)
            if best.count > k { best.removeLast() }
        }
        return best.map { (id: ids[$0], score: scores[$0]) }
    }
}

/// One search result: a caption, its similarity, and the clips it describes.
public struct CaptionHit: Equatable {
    public var captionID: Int64
    public var score: Float
    public var text: String
    public var video: String
    /// The caption's clip, or for a video caption every clip of the video, by id.
    public var clipIDs: [Int64]
}

extension Manifest {
    /// Every stored embedding of `encoder`. Throws `noEmbeddings` when there is none, `embeddingMismatch` when
    /// rows disagree on the dimension.
    public func captionMatrix(encoder: String) throws -> CaptionMatrix {
        try guarded { try queue.read { db in
            var ids: [Int64] = [], vectors: [Float] = [], dim = 0
            // Joined with caption: a manifest edited without foreign keys may hold embeddings of deleted captions.
            let rows = try Row.fetchCursor(db, sql: """
                SELECT e.caption_id, e.dim, e.vector FROM caption_embedding e JOIN caption c ON c.id = e.caption_id
                WHERE e.encoder = ? ORDER BY e.caption_id
                """, arguments: [encoder])
            while let r = try rows.next() {
                let d: Int = r[1]
                if dim == 0 { dim = d; vectors.reserveCapacity(d * 1024) }
                guard d == dim else {
                    throw ManifestError.embeddingMismatch(detail: "caption \(r[0] as Int64) has a \(d)-dimensional \(encoder) embedding, others \(dim)")
                }
                ids.append(r[0])
                // Little-endian float32 (CaptionEmbeddings.swift), copied whole: Manifest.floats' per-byte decoding
                // would dominate a search over many captions.
                let blob: Data = r[2], base = vectors.count
                vectors += repeatElement(0, count: d)
                vectors.withUnsafeMutableBytes { dst in
                    _ = blob.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: dst[(base * 4)..<((base + d) * 4)]))
                }
                #if _endian(big)
                for j in base..<(base + d) { vectors[j] = Float(bitPattern: UInt32(littleEndian: vectors[j].bitPattern)) }
                #endif
            }
            guard !ids.isEmpty else { throw ManifestError.noEmbeddings(encoder: encoder) }
            return CaptionMatrix(ids: ids, dim: dim, vectors: vectors)
        } }
    }

    /// Text, video and clips of the given captions, in the order given.
    public func captionHits(_ ranked: [(id: Int64, score: Float)]) throws -> [CaptionHit] {
        try guarded { try queue.read { db in
            try ranked.map { hit in
                guard let r = try Row.fetchOne(db, sql: """
                    SELECT caption.text, video.key, caption.clip_id, caption.video_id FROM caption
                    JOIN video ON video.id = caption.video_id WHERE caption.id = ?
                    """, arguments: [hit.id]) else {
                    throw ManifestError.embeddingMismatch(detail: "caption \(hit.id) has an embedding but no caption or video row; the manifest was edited by hand")
                }
                let clipID: Int64? = r[2]
                let clips = try clipID.map { [$0] } ?? Int64.fetchAll(db, sql: "SELECT id FROM clip WHERE video_id = ? ORDER BY id", arguments: [r[3]])
                return CaptionHit(captionID: hit.id, score: hit.score, text: r[0], video: r[1], clipIDs: clips)
            }
        } }
    }
}
