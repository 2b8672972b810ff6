// Errors of the .hvt reader and writer; each names what is wrong and, for streams, the byte offset.
import HVCore

public enum HVTError: ToolReportable {
    case notHVT(name: String)
    case unsupportedVersion(major: Int, minor: Int)
    case checksumMismatch(record: String, offset: Int)
    case truncated(offset: Int, detail: String)
    case corrupt(detail: String)
    case limitExceeded(detail: String)
    case unknownCriticalRecord(type: String, offset: Int)
    case tokenizerMismatch(expected: String, found: String)
    case invalidClip(detail: String)
    case alreadyMasked(detail: String)
    case io(name: String, reason: String)

    public var description: String {
        switch self {
        case let .notHVT(name): return "\(name) is not an .hvt token file (bad magic)"
        case let .unsupportedVersion(major, minor): return ".hvt version \(major).\(minor) is not supported (this reader reads \(HVTLayout.versionMajor).x)"
        case let .checksumMismatch(record, offset): return "checksum mismatch in \(record) record at byte \(offset): the file is corrupt"
        case let .truncated(offset, detail): return "the .hvt stream is truncated at byte \(offset) (\(detail))"
        case let .corrupt(detail): return "corrupt .hvt: \(detail)"
        case let .limitExceeded(detail): return ".hvt limit exceeded: \(detail)"
        case let .unknownCriticalRecord(type, offset): return "unknown critical record '\(type)' at byte \(offset); a newer writer made this file"
        case let .tokenizerMismatch(expected, found): return "tokens were made by tokenizer \(found), but this model is \(expected)"
        case let .invalidClip(detail): return "invalid clip: \(detail)"
        case let .alreadyMasked(detail): return detail
        case let .io(name, reason): return "\(name): \(reason)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .io: return SysExit.ioError
        case .invalidClip: return SysExit.software
        default: return SysExit.dataError
        }
    }
}
