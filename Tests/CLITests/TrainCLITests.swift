import Foundation
import HVEngine
import XCTest

/// `hv-train tokenizer` on inputs other than y4m: video files decoded on load, and a dataset manifest's clips.
final class TrainCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = Tools.tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Two synthetic 2-second videos, 64×48 at 8 fps.
    func makeVideos() throws {
        try FileManager.default.createDirectory(atPath: dir + "/v", withIntermediateDirectories: true)
        for (i, src) in ["testsrc2", "mandelbrot"].enumerated() {
            XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i \(src)=size=64x48:rate=8 -t 2 -pix_fmt yuv420p -c:v libx264 \(dir!)/v/\(i).mp4"), 0)
        }
    }

    func trainArgs(_ out: String) -> [String] {
        ["tokenizer", "--preset", "tiny", "--crop", "32", "--steps", "3", "--eval-every", "3", "--out", dir + "/" + out]
    }

    func csvRows(_ out: String) throws -> [String] {
        try String(contentsOfFile: dir + "/\(out)/train.csv", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func testTrainsOnVideoFilesAndFolders() throws {
        try makeVideos()
        let r = try Tools.run("hv-train", trainArgs("run") + ["--data", dir + "/v", "--heldout", dir + "/v/1.mp4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("2 videos (32 frames)"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/model.safetensors"))
        // The last row carries the held-out PSNR of the two layers (non-empty numbers).
        let last = try csvRows("run").last!.split(separator: ",", omittingEmptySubsequences: false)
        XCTAssertEqual(last.first, "3")
        XCTAssertNotNil(Double(last[last.count - 1]), String(last.joined(separator: ",")))
    }

    /// `--colour-weight` trains with the mean-colour term and logs it in train.csv's `colour` column (0 without it);
    /// a negative weight is a usage error.
    func testColourWeightIsLogged() throws {
        try makeVideos()
        func colour(_ out: String, _ extra: [String]) throws -> Double {
            let r = try Tools.run("hv-train", trainArgs(out) + ["--data", dir + "/v"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try csvRows(out)
            let column = try XCTUnwrap(rows[0].split(separator: ",").firstIndex(of: "colour"), rows[0])
            return try XCTUnwrap(Double(rows[1].split(separator: ",", omittingEmptySubsequences: false)[column]))
        }
        XCTAssertGreaterThan(try colour("on", ["--colour-weight", "0.5"]), 0)
        XCTAssertEqual(try colour("off", []), 0)
        let bad = try Tools.run("hv-train", trainArgs("bad") + ["--data", dir + "/v", "--colour-weight", "-1"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--colour-weight"), bad.stderr)
        let scales = try Tools.run("hv-train", trainArgs("bad") + ["--data", dir + "/v", "--temporal-scales", "0"])
        XCTAssertEqual(scales.status, 64, scales.stderr)
        XCTAssertTrue(scales.stderr.contains("--temporal-scales"), scales.stderr)
    }

    /// A crop that the coarsest layer cannot pool (tiny's cells are 16² in pixels) is a usage error naming the size
    /// to use, before any output is written, not a crash inside the first step.
    func testCropThatDoesNotPoolToEveryLayerIsAUsageError() throws {
        try makeVideos()
        var args = trainArgs("bad") + ["--data", dir + "/v"]
        args[args.firstIndex(of: "--crop")! + 1] = "24"
        let bad = try Tools.run("hv-train", args)
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").filter { $0.contains("error:") }.count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--crop 24") && bad.stderr.contains("multiple of 16"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad"))
    }

    /// `--bf16`: a bad value is the parser's usage error; `on` trains where the CPU has AMX tiles (and says so) and is
    /// a usage error naming AMX where it has not; `off` trains in float32 without the note.
    func testBF16OptionRunsOrIsRefusedByTheCPU() throws {
        try makeVideos()
        let bad = try Tools.run("hv-train", trainArgs("bad") + ["--data", dir + "/v", "--bf16", "half"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        let on = try Tools.run("hv-train", trainArgs("on") + ["--data", dir + "/v", "--bf16", "on"])
        if Conv3dAMX.available {
            XCTAssertEqual(on.status, 0, on.stderr)
            XCTAssertTrue(on.stderr.contains("bfloat16"), on.stderr)
        } else {
            XCTAssertEqual(on.status, 64, on.stderr)
            XCTAssertTrue(on.stderr.contains("AMX"), on.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/on"))
        }
        let off = try Tools.run("hv-train", trainArgs("off") + ["--data", dir + "/v", "--bf16", "off"])
        XCTAssertEqual(off.status, 0, off.stderr)
        XCTAssertFalse(off.stderr.contains("bfloat16"), off.stderr)
        // The default is auto: bfloat16 exactly where the CPU has the tiles.
        let auto = try Tools.run("hv-train", trainArgs("auto") + ["--data", dir + "/v"])
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertEqual(auto.stderr.contains("bfloat16"), Conv3dAMX.available, auto.stderr)
    }

    /// `--widths`, `--decoder-widths` and `--latent-channels` shape a new model (its config.json says so); a wrong
    /// count, a non-number or a checkpoint to continue is a usage error before anything is written.
    func testWidthOptionsShapeANewModel() throws {
        try makeVideos()
        let r = try Tools.run("hv-train", trainArgs("wide") + ["--data", dir + "/v", "--widths", "12,24",
                                                               "--decoder-widths", "16,32", "--latent-channels", "20"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/wide/config.json"))) as? [String: Any])
        let stages = try XCTUnwrap(config["stages"] as? [[String: Any]])
        XCTAssertEqual(stages.compactMap { $0["channels"] as? Int }, [12, 24])
        XCTAssertEqual(config["decoderChannels"] as? [Int], [16, 32])
        XCTAssertEqual(config["latentChannels"] as? Int, 20)
        for (name, extra) in [("count", ["--widths", "12,24,48"]), ("word", ["--widths", "12,x"]),
                              ("zero", ["--latent-channels", "0"]), ("resume", ["--resume", "--widths", "12,24"]),
                              ("init", ["--init", dir + "/wide", "--decoder-widths", "16,32"])] {
            let bad = try Tools.run("hv-train", trainArgs("bad-" + name) + ["--data", dir + "/v"] + extra)
            XCTAssertEqual(bad.status, 64, name + ": " + bad.stderr)
            XCTAssertTrue(bad.stderr.hasPrefix("hv-train: error:"), bad.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad-" + name + "/model.safetensors"), name)
        }
    }

    /// Training on refined codes runs end to end (every step trains layer 0 and refines), and a model that resizes
    /// whole frames is refused refinement on whole-frame crops with a usage error before any data is read.
    func testTrainsOnRefinedCodesAndRefusesResizedCrops() throws {
        try makeVideos()
        var r = try Tools.run("hv-train", trainArgs("refined") + ["--data", dir + "/v", "--progressive", "0,0,0", "--truncation", "0",
                                                                  "--refine-rounds", "2", "--refine-target-weight", "0.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try csvRows("refined").last?.split(separator: ",").first, "3", "the run reached its last step")
        r = try Tools.run("hv-train", ["tokenizer", "--preset", "single2", "--crop", "256", "--steps", "1", "--refine-rounds", "2",
                                       "--data", dir + "/v", "--out", dir + "/single"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--refine-rounds needs crops"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/single/model.safetensors"))
    }

    func testTrainsOnManifestClipsOfASplit() throws {
        try makeVideos()
        let db = dir + "/m.db"
        XCTAssertEqual(try Tools.run("hv-manifest", ["init", db]).status, 0)
        XCTAssertEqual(try Tools.run("hv-manifest", ["add", db, "--dir", dir + "/v", "--clip-seconds", "1"]).status, 0)
        // Everything in train: no val clips, so no held-out PSNR.
        XCTAssertEqual(try Tools.run("hv-manifest", ["split", db, "--val-fraction", "0", "--seed", "0"]).status, 0)
        let r = try Tools.run("hv-train", trainArgs("run") + ["--manifest", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("4 videos (32 frames)"), r.stderr)   // 2 videos × two 1-second clips
        // All in val: the train split is empty — a clear usage error, nothing written.
        XCTAssertEqual(try Tools.run("hv-manifest", ["split", db, "--val-fraction", "1", "--seed", "0"]).status, 0)
        let empty = try Tools.run("hv-train", trainArgs("run2") + ["--manifest", db])
        XCTAssertEqual(empty.status, 64, empty.stderr)
        XCTAssertTrue(empty.stderr.hasPrefix("hv-train: error:"), empty.stderr)
        XCTAssertTrue(empty.stderr.contains("split"), empty.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run2/model.safetensors"))
        // Training on val with --split val works; a missing manifest is refused.
        XCTAssertEqual(try Tools.run("hv-train", trainArgs("run3") + ["--manifest", db, "--split", "val"]).status, 0)
        let missing = try Tools.run("hv-train", trainArgs("run4") + ["--manifest", dir + "/nope.db"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.hasPrefix("hv-train: error:"), missing.stderr)
    }

    /// A log written before the `residual` column existed gains it, empty in old rows, when the run is resumed:
    /// every row then has the header's fields, and the value sits under its name.
    func testResumeMigratesAnOlderLog() throws {
        try makeVideos()
        let args = trainArgs("run") + ["--data", dir + "/v", "--residual-weight", "0.01"]
        XCTAssertEqual(try Tools.run("hv-train", args).status, 0)
        // Make it an old log: drop the residual column.
        let rows = try csvRows("run").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let col = try XCTUnwrap(rows[0].firstIndex(of: "residual"))
        let old = rows.map { r in r.enumerated().filter { $0.offset != col }.map(\.element).joined(separator: ",") }
        try (old.joined(separator: "\n") + "\n").write(toFile: dir + "/run/train.csv", atomically: true, encoding: .utf8)

        let resumed = try Tools.run("hv-train", args.map { $0 == "3" ? "5" : $0 } + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let now = try csvRows("run").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(now[0], rows[0])
        for r in now { XCTAssertEqual(r.count, rows[0].count, r.joined(separator: ",")) }
        XCTAssertEqual(now[1][col], "")                               // step 1, from the old log
        XCTAssertEqual(now[1][col + 1], rows[1][col + 1])             // later columns kept under their names
        XCTAssertEqual(now.last![0], "5")
        XCTAssertGreaterThan(try XCTUnwrap(Float(now.last![col])), 0)  // the new rows log the residual loss
    }

    /// --snapshot-every keeps one weights file per N steps; export --average-last K writes their mean as a release
    /// checkpoint (which hv-encode then uses), and refuses K beyond the snapshots with one line and no output.
    func testSnapshotsAndAveragedExport() throws {
        try makeVideos()
        let r = try Tools.run("hv-train", trainArgs("run") + ["--data", dir + "/v", "--snapshot-every", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let snaps = try FileManager.default.contentsOfDirectory(atPath: dir + "/run/snapshots").sorted()
        XCTAssertEqual(snaps, ["step-00000001.safetensors", "step-00000002.safetensors", "step-00000003.safetensors"])

        let e = try Tools.run("hv-train", ["export", "--from", dir + "/run", "--to", dir + "/avg", "--average-last", "2"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stderr.contains("step-00000002.safetensors,step-00000003.safetensors"), e.stderr)
        let plain = try Tools.run("hv-train", ["export", "--from", dir + "/run", "--to", dir + "/last"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/avg/model.safetensors")),
                          try Data(contentsOf: URL(fileURLWithPath: dir + "/last/model.safetensors")))

        let tooMany = try Tools.run("hv-train", ["export", "--from", dir + "/run", "--to", dir + "/bad", "--average-last", "4"])
        XCTAssertEqual(tooMany.status, 65, tooMany.stderr)
        XCTAssertTrue(tooMany.stderr.hasPrefix("hv-train: error:"), tooMany.stderr)
        XCTAssertEqual(tooMany.stderr.split(separator: "\n").count, 1, tooMany.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad"))
    }

    /// `--init C --freeze-tokens` fine-tunes only the render side: the new checkpoint writes byte-identical .hvt
    /// files (same tokens, the parent's identity in the header) and renders them differently, and so does its BF16
    /// export, and `hv-encode --print-identity` prints that header identity for all three; a BF16 export that would
    /// round the token side of an F32 parent is refused. Contradictory options are usage errors.
    func testFrozenTokenFineTuneKeepsTokenFiles() throws {
        try makeVideos()
        XCTAssertEqual(try Tools.run("hv-train", trainArgs("run") + ["--data", dir + "/v"]).status, 0)
        XCTAssertEqual(try Tools.run("hv-train", ["export", "--from", dir + "/run", "--to", dir + "/base"]).status, 0)
        func fineTune(from: String, to: String) throws -> ToolResult {
            try Tools.run("hv-train", ["tokenizer", "--init", dir + "/" + from, "--freeze-tokens", "--crop", "32", "--steps", "3",
                                       "--lr", "3e-3", "--mask-training", "--data", dir + "/v", "--out", dir + "/" + to])
        }
        let ft = try fineTune(from: "base", to: "ft")
        XCTAssertEqual(ft.status, 0, ft.stderr)
        XCTAssertEqual(try Tools.run("hv-train", ["export", "--from", dir + "/ft", "--to", dir + "/ftx"]).status, 0)
        let y4m = dir + "/clip.y4m"
        XCTAssertEqual(try Tools.run("hv-decode", [dir + "/v/0.mp4", "--size", "32", "--fps", "8", "-o", y4m]).status, 0)
        for m in ["base", "ft", "ftx"] {
            let e = try Tools.run("hv-encode", ["--model", dir + "/" + m, y4m, "-o", dir + "/\(m).hvt"])
            XCTAssertEqual(e.status, 0, e.stderr)
            let r = try Tools.run("hv-render", ["--model", dir + "/" + m, dir + "/base.hvt", "-o", dir + "/\(m).y4m"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        func bytes(_ f: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)) }
        XCTAssertEqual(try bytes("base.hvt"), try bytes("ft.hvt"), "a frozen-token fine-tune must write the same .hvt")
        XCTAssertEqual(try bytes("base.hvt"), try bytes("ftx.hvt"), "and so must its BF16 export")
        XCTAssertNotEqual(try bytes("base.y4m"), try bytes("ft.y4m"), "the decoder did not change")
        XCTAssertNotEqual(try bytes("base/model.safetensors"), try bytes("ftx/model.safetensors"))
        // `hv-encode --print-identity` (what pipelines compare .hvt headers with) is the header's identity for all
        // three: base's file hash, which the fine-tunes name as tokens_of though their own files differ.
        let info = try Tools.run("hv-info", ["--json", dir + "/base.hvt"])
        let header = try JSONSerialization.jsonObject(with: info.stdout) as? [String: Any]
        let headerID = "\(header?["tokenizerName"] ?? "")@\(header?["tokenizerHash"] ?? "")"
        func fileHash(_ m: String) throws -> String {
            XCTAssertEqual(try Tools.sh("cd \(dir!)/\(m) && cat config.json model.safetensors | sha256sum | cut -c1-64 > ../\(m).sha"), 0)
            return try String(contentsOfFile: dir + "/\(m).sha", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(headerID, "hitvideo-tiny@" + (try fileHash("base")))
        XCTAssertNotEqual(try fileHash("ftx"), try fileHash("base"))
        for m in ["base", "ft", "ftx"] {
            let p = try Tools.run("hv-encode", ["--model", dir + "/" + m, "--print-identity"])
            XCTAssertEqual(p.status, 0, p.stderr)
            XCTAssertEqual(p.stdoutText, headerID + "\n", m)
        }

        // From an F32 parent, BF16 would round token-side weights: refused, nothing written; F32 is fine.
        XCTAssertEqual(try fineTune(from: "run", to: "ft32").status, 0)
        let bad = try Tools.run("hv-train", ["export", "--from", dir + "/ft32", "--to", dir + "/ft32x"])
        XCTAssertEqual(bad.status, 65, bad.stderr)
        XCTAssertTrue(bad.stderr.hasPrefix("hv-train: error:") && bad.stderr.contains("--storage f32"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/ft32x"))
        XCTAssertEqual(try Tools.run("hv-train", ["export", "--from", dir + "/ft32", "--to", dir + "/ft32x", "--storage", "f32"]).status, 0)
        XCTAssertEqual(try Tools.run("hv-render", ["--model", dir + "/ft32x", dir + "/base.hvt", "-o", dir + "/r.y4m"]).status, 65,
                       "ft32 keeps run's tokens, not base's")
        // The same rule holds for the run's own checkpoints: BF16 storage from an F32 parent stops before training.
        let early = try Tools.run("hv-train", ["tokenizer", "--init", dir + "/run", "--freeze-tokens", "--storage", "bf16", "--crop", "32",
                                               "--steps", "1", "--data", dir + "/v", "--out", dir + "/ftbf"])
        XCTAssertEqual(early.status, 65, early.stderr)
        XCTAssertEqual(early.stderr.split(separator: "\n").count, 1, early.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/ftbf"))

        for bad in [["--freeze-tokens"], ["--init", dir + "/run", "--resume"]] {
            let b = try Tools.run("hv-train", ["tokenizer", "--data", dir + "/v", "--out", dir + "/bad"] + bad)
            XCTAssertEqual(b.status, 64, b.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad"))
        }
    }

    /// Folders of sources: windows are drawn per source with capped weights (a cartoon source at most 10 %), with
    /// EMA weights in the checkpoint; a run folder holding only a checkpoint (as committed, no train state) resumes
    /// from its weights at its step with fresh optimizer moments; hv-train diagnose reads clips by source folder.
    func testSourcesEMAResumeFromCommittedCheckpointAndDiagnose() throws {
        let data = dir + "/data"
        for (i, (source, src)) in [("bbb", "testsrc2"), ("fractal", "mandelbrot"), ("life", "life")].enumerated() {
            try FileManager.default.createDirectory(atPath: "\(data)/\(source)", withIntermediateDirectories: true)
            XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i \(src)=size=32x32:rate=8 -t 2 -pix_fmt yuv420p -f yuv4mpegpipe \(data)/\(source)/\(i).y4m"), 0)
        }
        try "source\tkind\nbbb\tcartoon\nfractal\tphoto\nlife\treal\n".write(toFile: data + "/sources.tsv", atomically: true, encoding: .utf8)
        let args = ["tokenizer", "--preset", "tiny2", "--crop", "32", "--eval-every", "2", "--checkpoint-every", "2",
                    "--ema", "0.9", "--data", data, "--heldout", data + "/life/2.y4m"]
        let r = try Tools.run("hv-train", args + ["--steps", "4", "--out", dir + "/run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("sampling 3 sources: bbb 10.0%, fractal 45.0%, life 45.0%"), r.stderr)
        // The committed form: a BF16 export (config + weights, the step in the metadata, no train state), with the
        // run's log beside it. Resuming it continues at its step (4), not from 0.
        let committed = dir + "/committed"
        XCTAssertEqual(try Tools.run("hv-train", ["export", "--from", dir + "/run", "--to", committed, "--storage", "bf16"]).status, 0)
        try FileManager.default.copyItem(atPath: dir + "/run/train.csv", toPath: committed + "/train.csv")
        let again = try Tools.run("hv-train", args + ["--steps", "6", "--resume", "--out", committed])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("at step 4 with fresh optimizer moments"), again.stderr)
        let steps = try csvRows("committed").dropFirst().compactMap { Int($0.split(separator: ",")[0]) }
        XCTAssertEqual(steps.last, 6)
        XCTAssertEqual(steps.filter { $0 == 4 }.count, 1, "\(steps)")
        // The diagnosis: per clip, per source folder and overall, with the box-mean baseline; a missing folder is
        // one line and exit 66.
        let d = try Tools.run("hv-train", ["diagnose", "--model", dir + "/run", "--crop", "0", data])
        XCTAssertEqual(d.status, 0, d.stderr)
        for source in ["bbb", "fractal", "life", "all"] { XCTAssertTrue(d.stdoutText.contains("| \(source) |"), d.stdoutText) }
        XCTAssertTrue(d.stdoutText.contains("box"), d.stdoutText)
        let bad = try Tools.run("hv-train", ["diagnose", "--model", dir + "/run", dir + "/nothing-here"])
        XCTAssertEqual(bad.status, 66, bad.stderr)
        XCTAssertTrue(bad.stderr.hasPrefix("hv-train: error:"), bad.stderr)
    }
}
