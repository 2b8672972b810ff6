// hv-manifest embed: compute all-MiniLM-L6-v2 sentence embeddings (HVText) for every caption that has
// none for this encoder id, storing them in batches (one short transaction per batch).
import ArgumentParser
import Foundation
import HVCLI
import HVManifest
import HVText

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Embed captions that have no embedding yet with the text encoder.")

    @OptionGroup var db: DatabaseArgument

    @Option(help: "Folder with model.safetensors, vocab.txt and config.json ('make text-encoder' fetches it).")
    var model: String = "models/text-encoder"

    @Option(help: "Encoder id stored with the vectors.")
    var encoderID: String = MiniLMEncoder.encoderID

    @Option(help: "Captions per batch (and per database transaction).")
    var batch: Int = 32

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive.") }
    }

    func run() throws {
        let manifest = try db.open()
        let todo = try manifest.captionsNeedingEmbedding(encoder: encoderID)
        if todo.isEmpty {
            FileHandle.standardError.write(Data("embed: every caption already has a \(encoderID) embedding\n".utf8))
            return
        }
        let encoder = try MiniLMEncoder(modelDirectory: model)
        let progress = Progress("embed")
        var done = 0
        for start in stride(from: 0, to: todo.count, by: batch) {
            let chunk = Array(todo[start..<min(todo.count, start + batch)])
            let vectors = encoder.embed(chunk.map(\.text))
            try manifest.storeEmbeddings(encoder: encoderID, zip(chunk, vectors).map { (captionID: $0.0.id, vector: $0.1) })
            done += chunk.count
            progress.update("\(done)/\(todo.count) captions")
        }
        progress.finish("\(done) captions")
        FileHandle.standardError.write(Data("embed: stored \(done) embeddings (\(encoderID))\n".utf8))
    }
}
