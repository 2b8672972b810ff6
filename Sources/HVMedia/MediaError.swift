// Errors of the media module: malformed y4m, undecodable inputs, encoder failures.
import HVCore

public enum MediaError: ToolReportable {
    case notY4M(name: String)
    case badY4MHeader(name: String, reason: String)
    case unsupportedY4M(name: String, reason: String)
    case truncatedFrame(name: String, frame: Int)
    case cannotOpen(name: String, reason: String)
    case noVideoStream(name: String)
    case decodeFailed(name: String, reason: String)
    case encodeFailed(name: String, reason: String)
    case io(name: String, reason: String)
    case cannotCreate(name: String, reason: String)
    case writeFailed(name: String, reason: String)

    public var description: String {
        switch self {
        case let .notY4M(n): return "\(n) is not a y4m stream (it does not start with 'YUV4MPEG2 ')"
        case let .badY4MHeader(n, r): return "\(n): bad y4m header: \(r)"
        case let .unsupportedY4M(n, r): return "\(n): unsupported y4m: \(r)"
        case let .truncatedFrame(n, f): return "\(n): frame \(f) is truncated"
        case let .cannotOpen(n, r): return "cannot open \(n): \(r)"
        case let .noVideoStream(n): return "\(n) has no video stream"
        case let .decodeFailed(n, r): return "cannot decode \(n): \(r)"
        case let .encodeFailed(n, r): return "cannot encode \(n): \(r)"
        case let .io(n, r): return "\(n): \(r)"
        case let .cannotCreate(n, r): return "cannot create '\(n)': \(r)"
        case let .writeFailed(n, r): return "write to '\(n)' failed: \(r)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .cannotOpen: return SysExit.noInput
        case .io, .writeFailed: return SysExit.ioError
        case .encodeFailed, .cannotCreate: return SysExit.cantCreate
        default: return SysExit.dataError
        }
    }
}
