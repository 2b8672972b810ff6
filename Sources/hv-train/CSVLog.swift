// The training log: one CSV row per logged step, flushed as it is written so `tail -f` works.
import Foundation
import HVCLI
import HVTokenizer

final class CSVLog {
    private let handle: FileHandle
    private let layers: Int

    init(path: String, layers: Int, append: Bool) throws {
        self.layers = layers
        let exists = FileManager.default.fileExists(atPath: path)
        if !append || !exists {
            var header = ["step", "seconds", "lr", "finest_layer", "l1", "perceptual", "adv_g", "adv_d", "grad_norm", "hardness"]
            for m in 0..<layers { header += ["entropy_L\(m)", "commit_L\(m)", "usage_L\(m)"] }
            for k in 0..<layers { header.append("psnr_top\(k + 1)") }
            FileManager.default.createFile(atPath: path, contents: Data((header.joined(separator: ",") + "\n").utf8))
        }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw FileError.cannotCreate(path: path, reason: "cannot open for writing")
        }
        h.seekToEndOfFile()
        handle = h
    }

    func append(_ r: TrainingLogRow) throws {
        var cols = ["\(r.step + 1)", String(format: "%.3f", r.seconds), "\(r.learningRate)", "\(r.finest)",
                    "\(r.l1)", "\(r.perceptual)", "\(r.adversarialG)", "\(r.adversarialD)", "\(r.gradNorm)", "\(r.hardness)"]
        for m in 0..<layers { cols += ["\(r.entropy[m])", "\(r.commit[m])", "\(r.usage[m])"] }
        for k in 0..<layers { cols.append(r.heldOutPSNR.map { String(format: "%.3f", $0[k]) } ?? "") }
        handle.write(Data((cols.joined(separator: ",") + "\n").utf8))
    }
}

/// Resident memory of this process, from /proc/self/statm.
enum ProcessMemory {
    static var residentMegabytes: Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let parts = s.split(separator: " ")
        guard parts.count > 1, let pages = Int(parts[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / (1 << 20)
    }
}
