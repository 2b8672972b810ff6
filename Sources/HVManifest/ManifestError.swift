// Errors of the dataset manifest: one case per failure, each a sentence a user can act on, mapped to a
// sysexits code (64 usage, 65 bad data, 66 missing input, 74 I/O) through HVCore.ToolReportable.
import Foundation
import HVCore

public enum ManifestError: ToolReportable {
    case databaseMissing(path: String)
    case databaseUnreadable(path: String, reason: String)
    case notAManifest(path: String)
    case damaged(path: String, reason: String)
    case newerSchema(path: String, migrations: [String])
    case sqlite(reason: String)
    case videoMissing(path: String)
    case directoryMissing(path: String)
    case probeFailed(path: String, reason: String)
    case ffprobeUnavailable(reason: String)
    case metadataUnreadable(path: String, reason: String)
    case metadataMissingColumn(path: String, column: String, available: [String])
    case metadataBadRow(path: String, line: Int, reason: String)
    case metadataFormat(path: String)
    case unknownClip(id: Int64)
    case foreignClip(detail: String)
    case unknownSource(name: String)
    case badShardSpec(spec: String)
    case badValue(name: String, value: String, reason: String)
    case fileUnreadable(path: String, reason: String)
    case tokenFileMissing(clip: Int64, path: String)
    case badTokenFile(clip: Int64, path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case tokenizerAmbiguous(hashes: [String])
    case mixedTokenizers(folder: String, found: String, wanted: String)
    case noEmbeddings(encoder: String)
    case embeddingMismatch(detail: String)
    case shardIndexMissing(path: String)
    case badShard(path: String, reason: String)

    public var description: String {
        switch self {
        case let .databaseMissing(path):
            return "manifest '\(path)' does not exist; create it with 'hv-manifest init \(path)'"
        case let .databaseUnreadable(path, reason):
            return "cannot open manifest '\(path)': \(reason)"
        case let .damaged(path, reason):
            return "manifest '\(path)' is damaged (SQLite: \(reason)); restore it from a copy"
        case let .notAManifest(path):
            return "'\(path)' is not a HiTVideo manifest; give a manifest file, or a new path to 'hv-manifest init'"
        case let .newerSchema(path, migrations):
            return "manifest '\(path)' has schema migrations this build does not know (\(migrations.joined(separator: ", "))); use a newer hv-manifest"
        case let .sqlite(reason):
            return "manifest database error: \(reason)"
        case let .videoMissing(path):
            return "video '\(path)' does not exist; fix the path or pass --skip-missing"
        case let .directoryMissing(path):
            return "directory '\(path)' does not exist or is not a directory"
        case let .probeFailed(path, reason):
            return "ffprobe cannot read '\(path)' as a video: \(reason)"
        case let .ffprobeUnavailable(reason):
            return "cannot run ffprobe (\(reason)); install FFmpeg ('make deps' does)"
        case let .metadataUnreadable(path, reason):
            return "cannot read metadata file '\(path)': \(reason)"
        case let .metadataMissingColumn(path, column, available):
            return "metadata file '\(path)' has no \(column) column (columns: \(available.joined(separator: ", "))); name it with --\(column)-column"
        case let .metadataBadRow(path, line, reason):
            return "metadata file '\(path)' line \(line): \(reason)"
        case let .metadataFormat(path):
            return "metadata file '\(path)' must end in .csv, .jsonl or .ndjson"
        case let .foreignClip(detail):
            return detail
        case let .unknownClip(id):
            return "no clip with id \(id) in the manifest"
        case let .unknownSource(name):
            return "no source named '\(name)' in the manifest; 'hv-manifest list DB --sources' lists them"
        case let .badShardSpec(spec):
            return "bad shard selection '\(spec)'; use K/N (e.g. 3/8) or A-B/N (e.g. 0-9/100)"
        case let .badValue(name, value, reason):
            return "bad value '\(value)' for \(name): \(reason)"
        case let .fileUnreadable(path, reason):
            return "cannot read '\(path)': \(reason)"
        case let .tokenFileMissing(clip, path):
            return "token file '\(path)' of clip \(clip) is missing; 'hv-manifest reset' the clip and pretokenize it again"
        case let .badTokenFile(clip, path, reason):
            return "token file '\(path)' of clip \(clip) is not what the manifest recorded: \(reason)"
        case let .writeFailed(path, reason):
            return "cannot write '\(path)': \(reason)"
        case let .tokenizerAmbiguous(hashes):
            return "the manifest has unpacked token files of \(hashes.count) tokenizers (\(hashes.map { String($0.prefix(12)) }.joined(separator: ", "))); choose one with --tokenizer-hash"
        case let .mixedTokenizers(folder, found, wanted):
            return "shard folder '\(folder)' holds shards of tokenizer \(found.prefix(12)), not \(wanted.prefix(12)); use one folder per tokenizer"
        case let .noEmbeddings(encoder):
            return "no caption has a \(encoder) embedding; compute them with 'hv-manifest embed'"
        case let .embeddingMismatch(detail):
            return detail
        case let .shardIndexMissing(path):
            return "no token shards at '\(path)': give a shard index (SPLIT/index.json), a split folder holding one, or the folder 'hv-manifest pack --out' wrote (its train/index.json is read)"
        case let .badShard(path, reason):
            return "token shard '\(path)' is unusable: \(reason)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .databaseMissing, .videoMissing, .directoryMissing, .metadataUnreadable, .fileUnreadable, .tokenFileMissing, .noEmbeddings,
             .shardIndexMissing:
            return SysExit.noInput
        case .databaseUnreadable, .sqlite, .writeFailed:
            return SysExit.ioError
        case .badTokenFile, .mixedTokenizers, .embeddingMismatch, .badShard:
            return SysExit.dataError
        case .tokenizerAmbiguous:
            return SysExit.usage
        case .notAManifest, .damaged, .newerSchema, .probeFailed, .metadataMissingColumn, .metadataBadRow, .unknownClip, .foreignClip,
             .unknownSource:
            return SysExit.dataError
        case .ffprobeUnavailable:
            return 69  // EX_UNAVAILABLE: a required program is missing
        case .metadataFormat, .badShardSpec, .badValue:
            return SysExit.usage
        }
    }
}
