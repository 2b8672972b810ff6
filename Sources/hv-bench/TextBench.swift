// Text-encoder benchmark: all-MiniLM-L6-v2 sentence embeddings per second on this machine,
// one caption at a time (the naive reference) and in packed batches of 32, reported with their ratio.
// Needs the weights in models/text-encoder ('make text-encoder'). Wired into hv-bench by the lead.
import Foundation
import HVEngine
import HVText

func runTextBench() throws {
    let encoder = try MiniLMEncoder(modelDirectory: "models/text-encoder")
    // Captions of typical dataset length (10–40 words), varied so that batches pack different lengths.
    let subjects = ["a cockatoo", "a diver", "pedestrians", "a red car", "a dog", "an old steam train", "two children", "a chef"]
    let actions = ["looks into the camera", "swims slowly over a coral reef in clear blue water",
                   "walk across a wide plaza on a sunny afternoon while pigeons scatter",
                   "drives along a mountain road at dusk with its headlights on",
                   "runs along the beach and jumps into the waves", "crosses a stone bridge puffing white smoke",
                   "build a sandcastle together", "chops vegetables quickly in a busy restaurant kitchen"]
    var sentences: [String] = []
    for i in 0..<128 { sentences.append("\(subjects[i % 8]) \(actions[(i * 3 + i / 8) % 8]), filmed in close-up") }
    let tokens = sentences.map { encoder.tokenizer.encode($0).count }.reduce(0, +)

    _ = encoder.embed(Array(sentences.prefix(4)))  // warm-up: page in the weights, start BLAS threads
    func rate(batch: Int) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for start in stride(from: 0, to: sentences.count, by: batch) {
            _ = encoder.embed(Array(sentences[start..<min(sentences.count, start + batch)]))
        }
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return Double(sentences.count) / s
    }
    let single = rate(batch: 1)
    let batched = rate(batch: 32)
    print("text encoder (all-MiniLM-L6-v2, \(sentences.count) captions, \(String(format: "%.1f", Double(tokens) / Double(sentences.count))) tokens on average, OpenBLAS \(BLAS.coreName), \(BLAS.threads) threads)")
    print(String(format: "  batch 1   %8.1f sentences/s", single))
    print(String(format: "  batch 32  %8.1f sentences/s   (%.2fx batch 1)", batched, batched / single))
}
