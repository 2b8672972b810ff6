// Reading the POSIX ustar archives TarWriter writes (the WebDataset token shards, formats/shards.md): regular
// files one after another, each a 512-byte header (checksum verified) and its data padded to 512 bytes, until
// the end-of-archive marker. What `hv-train lm --shards` reads; other members (directories, links, pax headers)
// are refused rather than guessed at, since a shard never holds them.

/// The members of a tar archive in memory, in archive order.
public enum TarReader {
    /// Parses `bytes` (a whole archive). Throws `TarError.malformed` naming `name` and the byte offset of the
    /// first header that is not a valid ustar regular-file header, or of data that runs past the end.
    public static func members(_ bytes: [UInt8], name: String) throws -> [(name: String, data: [UInt8])] {
        let block = TarWriter.blockSize
        var out: [(name: String, data: [UInt8])] = []
        var pos = 0
        func bad(_ reason: String) -> TarError { .malformed(archive: name, offset: pos, reason: reason) }
        func text(_ range: Range<Int>) -> String {
            String(decoding: bytes[range].prefix { $0 != 0 }, as: UTF8.self)
        }
        func octal(_ range: Range<Int>, _ field: String) throws -> Int {
            let s = text(range).trimmingCharacters(in: " ")
            guard !s.isEmpty, let v = Int(s, radix: 8), v >= 0 else { throw bad("its \(field) field is not an octal number") }
            return v
        }
        while true {
            guard pos + block <= bytes.count else { throw bad("the archive ends without its end-of-archive marker") }
            let header = pos..<(pos + block)
            if bytes[header].allSatisfy({ $0 == 0 }) { return out }
            let stored = try octal((pos + 148)..<(pos + 156), "checksum")
            var sum = 0
            for i in header { sum += (pos + 148..<pos + 156).contains(i) ? 0x20 : Int(bytes[i]) }
            guard sum == stored else { throw bad("header checksum \(stored) does not match its bytes (\(sum))") }
            guard text((pos + 257)..<(pos + 262)) == "ustar" else { throw bad("not a ustar header") }
            let type = bytes[pos + 156]
            guard type == UInt8(ascii: "0") || type == 0 else {
                throw bad("member type '\(Character(Unicode.Scalar(type)))' is not a regular file")
            }
            let memberName = text(pos..<(pos + 100))
            guard !memberName.isEmpty else { throw bad("a member has no name") }
            let size = try octal((pos + 124)..<(pos + 136), "size")
            let start = pos + block
            guard size <= bytes.count - start else { throw bad("member '\(memberName)' has \(size) bytes, past the end of the archive") }
            out.append((name: memberName, data: Array(bytes[start..<(start + size)])))
            pos = start + (size + block - 1) / block * block
        }
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
