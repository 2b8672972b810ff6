// hv-manifest search: the captions nearest to a text, by cosine similarity of its all-MiniLM-L6-v2 embedding
// (HVText, as `embed` computes them) to the stored caption embeddings, with the clips each one describes.
import ArgumentParser
import Foundation
import HVCLI
import HVManifest
import HVText

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the captions nearest to a text and their clips.",
        discussion: """
            Embeds TEXT with the text encoder and ranks every stored caption embedding of that encoder by cosine
            similarity (brute force). Prints one line per caption, best first, tab-separated: rank, score, caption
            id, video key, clip ids (ranges like 3-9,12), caption text. Captions need embeddings: 'hv-manifest embed'.
            """)

    @OptionGroup var db: DatabaseArgument

    @Argument(help: "The text to search for.")
    var text: String

    @Option(name: .short, help: "How many captions to print.")
    var k: Int = 5

    @Option(help: "Folder with model.safetensors, vocab.txt and config.json ('make text-encoder' fetches it).")
    var model: String = "models/text-encoder"

    @Option(help: "Encoder id of the stored embeddings to search.")
    var encoderID: String = MiniLMEncoder.encoderID

    @Flag(help: "Print JSON lines instead of tab-separated columns.")
    var json = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be positive.") }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("The search text is empty.") }
    }

    func run() throws {
        let manifest = try db.openReadOnly()
        let matrix = try manifest.captionMatrix(encoder: encoderID)
        let encoder = try MiniLMEncoder(modelDirectory: model)
        let query = encoder.embed([text])[0]
        guard query.count == matrix.dim else {
            throw ManifestError.embeddingMismatch(detail: "the model in '\(model)' makes \(query.count)-dimensional embeddings, the stored \(encoderID) ones have \(matrix.dim)")
        }
        let hits = try manifest.captionHits(matrix.nearest(query, k: k))
        for (rank, h) in hits.enumerated() {
            if json {
                let obj: [String: Any] = ["rank": rank + 1, "score": Double(h.score), "caption_id": h.captionID, "video": h.video,
                                          "clips": h.clipIDs, "caption": h.text]
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let clean = h.text.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : String($0) }.joined()
                print("\(rank + 1)\t\(String(format: "%.4f", h.score))\t\(h.captionID)\t\(h.video)\t\(arrayList(h.clipIDs.map { Int($0) }))\t\(clean)")
            }
        }
    }
}
