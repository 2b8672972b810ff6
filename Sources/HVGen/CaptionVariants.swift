// Shortened phrasings of training captions (word dropout on the text, before the text encoder). A generator that
// has only ever read a source's few exact captions recalls their wording; a prompt in other words then reaches the
// scene less often than the caption does. Dropping words before MiniLM encodes them gives every caption further
// contextual states that share its content words but not its sentence, as a paraphrase does. Deterministic: the
// same caption, count, rate and seed give the same variants on every machine (no Swift Hasher).
import HVEngine

public enum CaptionVariants {
    /// Up to `count` distinct variants of `caption`, each keeping every word with probability 1 − `dropRate` (word
    /// order kept, at least two words, never the caption itself). Fewer when the caption has too few words to vary.
    public static func shortened(_ caption: String, count: Int, dropRate: Float, seed: UInt64) -> [String] {
        let words = caption.split(whereSeparator: \.isWhitespace).map(String.init)
        guard count > 0, dropRate > 0, words.count > 2 else { return [] }
        var rng = SeededRandom(seed: seed ^ fnv1a(caption))
        let original = words.joined(separator: " ")
        var out: [String] = []
        // Bounded tries: a short caption has only so many subsequences of two or more words.
        for _ in 0..<(count * 20) where out.count < count {
            let kept = words.filter { _ in rng.uniform() >= dropRate }
            guard kept.count >= 2 else { continue }
            let v = kept.joined(separator: " ")
            if v != original && !out.contains(v) { out.append(v) }
        }
        return out
    }

    /// Every caption followed by its variants, for one clip. Variants already among the captions are skipped, and so
    /// is any that shares `maxOverlap` or more of its words with one of `avoid` (held-out prompts): dropping words
    /// can bring a caption nearer to a paraphrase written from it, and an evaluation must not train on that.
    public static func withVariants(_ captions: [String], count: Int, dropRate: Float, seed: UInt64,
                                    avoid: [String] = [], maxOverlap: Double = 0.6) -> (captions: [String], avoided: Int) {
        var all = captions, avoided = 0
        let held = avoid.map(words)
        for c in captions {
            for v in shortened(c, count: count, dropRate: dropRate, seed: seed) where !all.contains(v) {
                let w = words(v)
                if held.contains(where: { overlap(w, $0) >= maxOverlap }) { avoided += 1 } else { all.append(v) }
            }
        }
        return (all, avoided)
    }

    /// Lower-cased words (runs of letters), as the evaluation prompts' check counts them.
    public static func words(_ s: String) -> Set<String> { Set(s.lowercased().split { !$0.isLetter }.map(String.init)) }

    /// Shared words over all words of the two (Jaccard): 1 for the same words in any order.
    public static func overlap(_ a: Set<String>, _ b: Set<String>) -> Double {
        Double(a.intersection(b).count) / Double(max(1, a.union(b).count))
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}
