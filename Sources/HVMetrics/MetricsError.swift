// Errors of the metrics module: inputs that cannot be compared frame by frame. All are data errors
// (exit 65) and say what differs, so that the user knows which of hv-decode --size/--fps to reach for.
import HVCore

public enum MetricsError: ToolReportable {
    case sizeMismatch(ref: String, refWidth: Int, refHeight: Int, dist: String, distWidth: Int, distHeight: Int)
    case frameCountMismatch(ref: String, refFrames: Int, dist: String, distFrames: Int)
    case frameRateMismatch(ref: String, refRate: String, dist: String, distRate: String)
    case frameTooSmall(width: Int, height: Int)
    case frameTooLarge(width: Int, height: Int, limit: Int)
    case noFrames(name: String)
    case workspaceTooSmall(width: Int, height: Int, capacityWidth: Int, capacityHeight: Int)

    public var description: String {
        switch self {
        case let .sizeMismatch(r, rw, rh, d, dw, dh):
            return "frame sizes differ: \(r) is \(rw)x\(rh) but \(d) is \(dw)x\(dh); bring both to one size first (e.g. hv-decode --size)"
        case let .frameTooLarge(w, h, limit):
            return "frames of \(w)x\(h) are over hv-metrics' limit of \(limit) pixels (about 36 bytes a pixel while scoring); scale both inputs down first"
        case let .frameRateMismatch(r, rr, d, dr):
            return "frame rates differ: \(r) is \(rr) fps but \(d) is \(dr); frame i would not show the same moment (resample with hv-decode --fps)"
        case let .frameCountMismatch(r, rn, d, dn):
            return "frame counts differ: \(r) has \(rn) frames but \(d) has \(dn); use --frames N to compare the first N"
        case let .frameTooSmall(w, h):
            return "frames of \(w)x\(h) are smaller than the 11x11 SSIM window"
        case let .noFrames(n):
            return "\(n) contains no frames"
        case let .workspaceTooSmall(w, h, cw, ch):
            return "frames of \(w)x\(h) do not fit an SSIM workspace made for \(cw)x\(ch)"
        }
    }

    public var exitCode: Int32 { SysExit.dataError }
}
