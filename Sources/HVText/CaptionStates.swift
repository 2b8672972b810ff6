// The text condition of the generator: per-token MiniLM hidden states [S, 384] of each caption (the generator
// projects them to its width; a pooled sentence embedding, as shards carry, would lose the per-token detail).
// Each distinct caption is encoded once, on its own (so the result depends on the caption and the encoder only,
// not on which other captions were encoded with it), and kept in a cache folder, one safetensors file per
// (encoder identity, caption): a second training run reads them instead of running the encoder
// (formats/text-states.md).
import Foundation
import HVCore
import HVEngine

public final class CaptionStates {
    /// What the cache files record and are named by: the encoder's id and a SHA-256 of its files, so that a
    /// different vocabulary or weights never reuse another encoder's states.
    public let encoderIdentity: String
    /// The cache folder; nil: compute every time, keep nothing.
    public let cacheDirectory: String?
    private let modelDirectory: String
    private var encoder: MiniLMEncoder?

    public static let formatName = "hitvideo-text-states"
    public static let formatVersion = "1"
    public static let tensorName = "states"

    /// Captions encoded by the last `states` call, and captions read from the cache.
    public private(set) var computed = 0
    public private(set) var cached = 0
    /// Cache files that could not be used (damaged, or another caption or encoder in them) and were written again.
    public private(set) var replaced: [String] = []

    /// `modelDirectory`: the MiniLM folder (vocab.txt, model.safetensors, config.json). It is hashed here and
    /// loaded only when a caption is not in the cache.
    public init(modelDirectory: String, cacheDirectory: String?) throws {
        self.modelDirectory = modelDirectory
        self.cacheDirectory = cacheDirectory
        encoderIdentity = MiniLMEncoder.encoderID + "@" + (try CaptionStates.hashEncoderFiles(modelDirectory))
    }

    /// SHA-256 over vocab.txt, config.json (when present) and model.safetensors, in that order, read in 1 MiB
    /// chunks.
    static func hashEncoderFiles(_ dir: String) throws -> String {
        var hasher = SHA256()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        for (name, required) in [("vocab.txt", true), ("config.json", false), ("model.safetensors", true)] {
            let path = (dir as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else {
                if required { throw TextError.missingFile(path: path, what: name == "vocab.txt" ? "vocabulary" : "weights") }
                continue
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw TextError.unreadable(path: path, reason: String(cString: strerror(errno))) }
            defer { close(fd) }
            while true {
                let n = Glibc.read(fd, buffer, chunk)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TextError.unreadable(path: path, reason: String(cString: strerror(errno)))
                }
                if n == 0 { break }
                hasher.update(UnsafeRawBufferPointer(start: buffer, count: n))
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The cache file of `caption`: SHA-256 of the encoder identity, a newline and the caption's UTF-8 bytes.
    public func cacheFile(for caption: String) -> String? {
        guard let cacheDirectory else { return nil }
        var h = SHA256()
        h.update(Array((encoderIdentity + "\n" + caption).utf8))
        let name = h.finalize().map { String(format: "%02x", $0) }.joined()
        return (cacheDirectory as NSString).appendingPathComponent(name + ".safetensors")
    }

    /// The hidden states of every caption (in order; repeated captions share one tensor): from the cache where
    /// it has them, else encoded one caption at a time and stored.
    public func states(_ captions: [String]) throws -> [Tensor] {
        computed = 0; cached = 0; replaced = []
        if let cacheDirectory {
            do { try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true) }
            catch { throw TextError.unwritable(path: cacheDirectory, reason: "cannot create the cache folder") }
        }
        var byCaption: [String: Tensor] = [:]
        return try captions.map { caption in
            if let t = byCaption[caption] { return t }
            let t: Tensor
            if let file = cacheFile(for: caption), FileManager.default.fileExists(atPath: file) {
                if let stored = read(file, caption: caption) {
                    t = stored; cached += 1
                } else {
                    t = try encode(caption); computed += 1; replaced.append(file)
                    try write(t, caption: caption, to: file)
                }
            } else {
                t = try encode(caption); computed += 1
                if let file = cacheFile(for: caption) { try write(t, caption: caption, to: file) }
            }
            byCaption[caption] = t
            return t
        }
    }

    private func encode(_ caption: String) throws -> Tensor {
        if encoder == nil { encoder = try MiniLMEncoder(modelDirectory: modelDirectory) }
        return encoder!.hiddenStates([caption])[0]
    }

    /// A cache file's states, or nil when it is not a states file of this caption and encoder.
    func read(_ file: String, caption: String) -> Tensor? {
        guard let f = try? SafeTensors.load(path: file), f.metadata["format"] == CaptionStates.formatName,
              f.metadata["version"] == CaptionStates.formatVersion, f.metadata["encoder"] == encoderIdentity,
              f.metadata["caption"] == caption, f.entries.count == 1, let e = f.entries[CaptionStates.tensorName],
              e.dtype == .f32, e.shape.count == 2, e.shape[0] >= 1, e.shape[1] >= 1,
              let t = try? f.tensor(CaptionStates.tensorName) else { return nil }
        for i in 0..<t.count where !t[i].isFinite { return nil }
        return t
    }

    private func write(_ t: Tensor, caption: String, to file: String) throws {
        let meta = ["format": CaptionStates.formatName, "version": CaptionStates.formatVersion,
                    "encoder": encoderIdentity, "caption": caption]
        do { try SafeTensors.save([(CaptionStates.tensorName, t)], dtype: .f32, metadata: meta, to: file) }
        catch { throw TextError.unwritable(path: file, reason: "\(error)") }
    }
}
