// The lower-casing BERT WordPiece tokenizer, exactly as Hugging Face's BertTokenizer (do_lower_case=True)
// does it for all-MiniLM-L6-v2: basic tokenizer (clean text, split CJK ideographs, lower-case, NFD and
// strip accents, split punctuation), then greedy longest-match-first WordPiece with "##" continuations,
// [CLS] ... [SEP], truncated to 256 tokens (the model's max_seq_length).
import Foundation

public final class WordPieceTokenizer {
    public let vocabulary: [String]
    /// Keys are UTF-8 bytes, not Strings: Swift compares Strings up to canonical equivalence (a Hangul
    /// syllable equals its jamo), Python compares code points. Bytes match Python.
    private let ids: [[UInt8]: Int32]
    public let unknownID: Int32, clsID: Int32, sepID: Int32, padID: Int32
    public let maxLength: Int
    public let maxCharsPerWord = 100

    /// Loads `vocab.txt` (one token per line; the line number is the id).
    public convenience init(vocabularyFile path: String, maxLength: Int = 256) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TextError.missingFile(path: path, what: "vocabulary")
        }
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        try self.init(vocabulary: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }, maxLength: maxLength, source: path)
    }

    public init(vocabulary: [String], maxLength: Int = 256, source: String = "vocabulary") throws {
        self.vocabulary = vocabulary
        var map: [[UInt8]: Int32] = [:]
        for (i, token) in vocabulary.enumerated() { map[Array(token.utf8)] = Int32(i) }  // later duplicates win, as in HF's load_vocab
        self.ids = map
        func need(_ t: String) throws -> Int32 {
            guard let id = map[Array(t.utf8)] else { throw TextError.badVocabulary(path: source, reason: "no \(t) token") }
            return id
        }
        unknownID = try need("[UNK]"); clsID = try need("[CLS]"); sepID = try need("[SEP]"); padID = try need("[PAD]")
        guard maxLength >= 2 else { throw TextError.badVocabulary(path: source, reason: "max length \(maxLength) leaves no room for [CLS] and [SEP]") }
        self.maxLength = maxLength
    }

    /// Token ids of `text`: [CLS] wordpieces... [SEP], at most `maxLength` in all.
    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = [clsID]
        for word in basicTokens(text) {
            out += wordPieces(word)
            if out.count >= maxLength - 1 { break }
        }
        if out.count > maxLength - 1 { out.removeLast(out.count - (maxLength - 1)) }
        out.append(sepID)
        return out
    }

    /// The token strings of ids (for diagnostics).
    public func tokens(_ ids: [Int32]) -> [String] { ids.map { Int($0) < vocabulary.count ? vocabulary[Int($0)] : "?" } }

    // MARK: - Basic tokenizer (transformers BasicTokenizer)

    /// Words after cleaning, CJK splitting, lower-casing, accent stripping and punctuation splitting.
    public func basicTokens(_ text: String) -> [[Unicode.Scalar]] {
        // _clean_text and _tokenize_chinese_chars in one pass.
        var cleaned: [Unicode.Scalar] = []
        cleaned.reserveCapacity(text.unicodeScalars.count)
        for c in text.unicodeScalars {
            if c.value == 0 || c.value == 0xFFFD || WordPieceTokenizer.isControl(c) { continue }
            if WordPieceTokenizer.isBertWhitespace(c) { cleaned.append(" "); continue }
            if WordPieceTokenizer.isCJK(c) { cleaned.append(" "); cleaned.append(c); cleaned.append(" "); continue }
            cleaned.append(c)
        }
        var words: [[Unicode.Scalar]] = []
        for word in WordPieceTokenizer.splitWhitespace(cleaned) {
            // token.lower(), then _run_strip_accents: NFD and drop nonspacing marks (Mn).
            var s = String(String.UnicodeScalarView(word)).lowercased()
            s = s.decomposedStringWithCanonicalMapping
            let stripped = s.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
            // _run_split_on_punc: every punctuation character is a word of its own.
            var current: [Unicode.Scalar] = []
            for c in stripped {
                if WordPieceTokenizer.isPunctuation(c) {
                    if !current.isEmpty { words.append(current); current = [] }
                    words.append([c])
                } else {
                    current.append(c)
                }
            }
            if !current.isEmpty { words.append(current) }
        }
        // whitespace_tokenize(" ".join(split_tokens)): lower() can produce no whitespace, so nothing to redo
        // except dropping empty words.
        return words.filter { !$0.isEmpty }
    }

    /// Python's str.split(): runs of whitespace (Unicode White_Space) separate words.
    static func splitWhitespace(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = [], cur: [Unicode.Scalar] = []
        for c in scalars {
            if c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) {
                if !cur.isEmpty { out.append(cur); cur = [] }
            } else {
                cur.append(c)
            }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    /// BERT's _is_whitespace: space, \t, \n, \r, and category Zs.
    static func isBertWhitespace(_ c: Unicode.Scalar) -> Bool {
        if c == " " || c == "\t" || c == "\n" || c == "\r" { return true }
        return c.properties.generalCategory == .spaceSeparator
    }

    /// BERT's _is_control: categories C* except \t, \n, \r.
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// BERT's _is_punctuation: all non-alphanumeric ASCII (33–47, 58–64, 91–96, 123–126) and category P*.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// BERT's _is_chinese_char: the CJK Unified Ideographs blocks (not Hiragana, Katakana or Hangul).
    static func isCJK(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    // MARK: - WordPiece (transformers WordpieceTokenizer)

    /// Greedy longest-match-first pieces of one word; [UNK] for the whole word if any part has no match
    /// or the word is longer than 100 characters.
    public func wordPieces(_ word: [Unicode.Scalar]) -> [Int32] {
        if word.count > maxCharsPerWord { return [unknownID] }
        let bytes = word.map { Array(String($0).utf8) }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var key: [UInt8] = start > 0 ? [0x23, 0x23] : []  // "##"
                for i in start..<end { key += bytes[i] }
                if let id = ids[key] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}
