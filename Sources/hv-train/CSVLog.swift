// The training log: one CSV row per logged step, flushed as it is written so `tail -f` works.
import Foundation
import HVCLI
import HVTokenizer

final class CSVLog {
    private let handle: FileHandle
    private let layers: Int

    init(path: String, layers: Int, append: Bool) throws {
        self.layers = layers
        var header = ["step", "seconds", "lr", "finest_layer", "l1", "perceptual", "adv_g", "adv_d", "grad_norm", "hardness",
                      "residual", "temporal", "colour"]
        for m in 0..<layers { header += ["entropy_L\(m)", "commit_L\(m)", "usage_L\(m)"] }
        for k in 0..<layers { header.append("psnr_top\(k + 1)") }
        let exists = FileManager.default.fileExists(atPath: path)
        if !append || !exists {
            guard FileManager.default.createFile(atPath: path, contents: Data((header.joined(separator: ",") + "\n").utf8)) else {
                throw FileError.cannotOpen(path: path, reason: "cannot create the training log")
            }
        } else {
            try Self.migrate(path: path, to: header)
        }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw FileError.cannotCreate(path: path, reason: "cannot open for writing")
        }
        h.seekToEndOfFile()
        handle = h
    }

    /// A log written by an older hv-train (before a column was added) is rewritten, atomically, under the current header:
    /// each old value stays under its column's name and new columns are empty in old rows. So a resumed run
    /// appends rows with the same fields as the header.
    static func migrate(path: String, to header: [String]) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw FileError.readFailed(path: path, reason: "cannot read the training log")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let first = lines.first else { return }
        let old = first.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if old == header { return }
        let index = Dictionary(old.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        guard Set(old).isSubset(of: header) else {
            throw FileError.cannotOpen(path: path, reason: "it has columns this hv-train does not write; move it away to resume")
        }
        lines[0] = header.joined(separator: ",")
        for i in 1..<lines.count {
            let f = lines[i].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            lines[i] = header.map { name in index[name].flatMap { $0 < f.count ? f[$0] : nil } ?? "" }.joined(separator: ",")
        }
        let out = try OutputFile(path)
        try out.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try out.commit()
    }

    func append(_ r: TrainingLogRow) throws {
        var cols = ["\(r.step + 1)", String(format: "%.3f", r.seconds), "\(r.learningRate)", "\(r.finest)",
                    "\(r.l1)", "\(r.perceptual)", "\(r.adversarialG)", "\(r.adversarialD)", "\(r.gradNorm)", "\(r.hardness)",
                    "\(r.residual)", "\(r.temporal)", "\(r.colour)"]
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
