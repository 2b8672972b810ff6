import XCTest
import HVFormat
import HVTokenizer

/// hv-decode | hv-encode | hv-mask | hv-render on a tiny model, checked through hv-info and hv-metrics.
final class PipelineCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = Tools.tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func makeModel(_ name: String, seed: UInt64) throws -> String {
        let path = dir + "/" + name
        try TokenizerCheckpoint.save(try HierarchicalTokenizer(config: .tiny, seed: seed), to: path)
        return path
    }

    func testDecodeFrameCountAndSizeMatchFFprobe() throws {
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=321x241:rate=25 -t 3 -pix_fmt yuv420p \(dir!)/src.mkv"), 0)
        let r = try Tools.run("hv-decode", [dir + "/src.mkv", "--fps", "8", "--size", "64", "-o", dir + "/a.y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0", dir + "/a.y4m"]
        let pipe = Pipe(); probe.standardOutput = pipe
        try probe.run(); probe.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(out, "64,64,24")  // 3 s at 8 fps, 64x64
    }

    /// Named outputs are written through a temporary file and a rename, which must not replace what the name
    /// is: a symbolic link stays a link (its target gets the bytes), and a FIFO (like /dev/null, not a regular
    /// file) is written in place — once `-o /dev/null` turned /dev/null into a regular file.
    func testOutputsThroughLinksAndFIFOsKeepThem() throws {
        let model = try makeModel("m", seed: 1)
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 1 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/in.y4m"), 0)
        let plain = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let fm = FileManager.default
        func kind(_ p: String) throws -> FileAttributeType? { try fm.attributesOfItem(atPath: p)[.type] as? FileAttributeType }

        // A link to an older file: the link stays, the file gets the new bytes.
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/real.hvt"))
        try fm.createSymbolicLink(atPath: dir + "/link.hvt", withDestinationPath: dir + "/real.hvt")
        var r = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m", "-o", dir + "/link.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try kind(dir + "/link.hvt"), .typeSymbolicLink)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/real.hvt")), plain.stdout)

        // A FIFO with a reader: the bytes go through it, and it is still a FIFO afterwards.
        XCTAssertEqual(try Tools.sh("mkfifo \(dir!)/fifo"), 0)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "timeout 30 cat \(dir!)/fifo > \(dir!)/through-fifo"]   // a regression fails, not hangs
        try reader.run()
        r = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m", "-o", dir + "/fifo"])
        reader.waitUntilExit()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Tools.sh("test -p \(dir!)/fifo"), 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/through-fifo")), plain.stdout)

        // Outputs written by a library (the contact sheet PNG): a link stays a link too.
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/sheet-real.png"))
        try fm.createSymbolicLink(atPath: dir + "/sheet.png", withDestinationPath: dir + "/sheet-real.png")
        r = try Tools.run("hv-render", ["--model", model, dir + "/real.hvt", "-o", dir + "/out.y4m", "--contact-sheet", dir + "/sheet.png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try kind(dir + "/sheet.png"), .typeSymbolicLink)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/sheet-real.png")).prefix(4), Data([0x89, 0x50, 0x4E, 0x47]))
    }

    /// `hv-encode --refine N`: the same header and coarse layer as the plain encode, layer 0 changed, a render at
    /// least as close to the source (hv-metrics), the same bytes on a second run; bad counts and models that
    /// resize their input are refused with a usage error and no output.
    /// Mean per-frame PSNR of FILE (in `dir`) rendered with MODEL against `dir`/in.y4m.
    func renderPSNR(_ model: String, _ f: String) throws -> Double {
        var r = try Tools.run("hv-render", ["--model", model, dir + "/" + f, "-o", dir + "/" + f + ".y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try Tools.run("hv-metrics", ["--json", dir + "/in.y4m", dir + "/" + f + ".y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any])["psnr"] as! Double
    }

    /// The clips of FILE (in `dir`).
    func clips(_ f: String) throws -> [HVTClip] {
        let reader = try HVTReader(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f))))
        var out: [HVTClip] = []
        while let c = try reader.nextClip() { out.append(c) }
        return out
    }

    func testRefinedEncodeRendersCloserAndKeepsTheCoarseLayer() throws {
        let model = try makeModel("m", seed: 2)
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 2 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/in.y4m"), 0)
        var r = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m", "-o", dir + "/plain.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try Tools.run("hv-encode", ["--model", model, "--refine", "6", dir + "/in.y4m", "-o", dir + "/refined.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Tools.run("hv-encode", ["--model", model, "--refine", "6", dir + "/in.y4m"]).stdout,
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/refined.hvt")))
        let (a, b) = (try clips("plain.hvt"), try clips("refined.hvt"))
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(a.map { $0.layers[1] }, b.map { $0.layers[1] }, "the coarse layer is the encoder's")
        XCTAssertNotEqual(a.map { $0.layers[0] }, b.map { $0.layers[0] }, "layer 0 was refined")
        XCTAssertGreaterThan(try renderPSNR(model, "refined.hvt"), try renderPSNR(model, "plain.hvt"))
        r = try Tools.run("hv-encode", ["--model", model, "--refine", "-1", dir + "/in.y4m", "-o", dir + "/bad.hvt"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.hvt"))
        for w in ["-1", "nan"] {
            r = try Tools.run("hv-encode", ["--model", model, "--refine", "6", "--refine-colour", w, dir + "/in.y4m", "-o", dir + "/bad.hvt"])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("hv-encode: error:"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.hvt"))
        }
        // Without the colour term the search is the squared error's alone: still layer 0 only, still no worse.
        r = try Tools.run("hv-encode", ["--model", model, "--refine", "6", "--refine-colour", "0", dir + "/in.y4m", "-o", dir + "/plain-refined.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try clips("plain-refined.hvt").map { $0.layers[1] }, a.map { $0.layers[1] })
        XCTAssertGreaterThan(try renderPSNR(model, "plain-refined.hvt"), try renderPSNR(model, "plain.hvt"))
        let single = dir + "/single"
        var c = TokenizerConfig.tiny; c.encoderSize = 40; c.layers = [LayerConfig(name: "L0", grid: Size3(2, 5, 5), bits: 6)]
        try TokenizerCheckpoint.save(try HierarchicalTokenizer(config: c, seed: 1), to: single)
        r = try Tools.run("hv-encode", ["--model", single, "--refine", "2", dir + "/in.y4m", "-o", dir + "/bad.hvt"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("hv-encode: error:"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.hvt"))
    }

    /// hv-encode --mask-ratio masks as hv-mask does (same bytes; hv-mask then passes the file through), and with
    /// --refine the kept tokens are tuned for the masked render: it renders closer than the same mask unrefined.
    func testEncodeMasksAsHvMaskAndRefinesForTheMaskedRender() throws {
        let model = try makeModel("m", seed: 2)
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 2 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/in.y4m"), 0)
        func file(_ f: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)) }
        var r = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m", "-o", dir + "/plain.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for (ratio, seed) in [("0.85", "0"), ("0.3", "7")] {
            r = try Tools.run("hv-mask", [dir + "/plain.hvt", "--ratio", ratio, "--seed", seed, "-o", dir + "/masked.hvt"])
            XCTAssertEqual(r.status, 0, r.stderr)
            r = try Tools.run("hv-encode", ["--model", model, "--mask-ratio", ratio, "--mask-seed", seed, dir + "/in.y4m", "-o", dir + "/enc-masked.hvt"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try file("enc-masked.hvt"), try file("masked.hvt"), "ratio \(ratio): the bytes hv-mask writes")
        }
        r = try Tools.run("hv-encode", ["--model", model, "--refine", "4", "--mask-ratio", "0.85", dir + "/in.y4m", "-o", dir + "/refined.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try Tools.run("hv-mask", [dir + "/refined.hvt", "--ratio", "0.85"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, try file("refined.hvt"), "hv-mask with the same request passes it through")
        r = try Tools.run("hv-mask", [dir + "/refined.hvt", "--ratio", "0.5"])
        XCTAssertEqual(r.status, 65, r.stderr)
        r = try Tools.run("hv-encode", ["--model", model, "--mask-ratio", "0.85", dir + "/in.y4m", "-o", dir + "/unrefined.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let (a, b) = (try clips("unrefined.hvt"), try clips("refined.hvt"))
        XCTAssertEqual(a.map(\.masks), b.map(\.masks), "the mask is chosen from the encoder's codes")
        XCTAssertTrue(a.contains { $0.masks[0]?.contains(true) ?? false }, "something is masked")
        XCTAssertNotEqual(a.map { $0.layers[0] }, b.map { $0.layers[0] }, "kept tokens were refined")
        XCTAssertEqual(a.map { $0.layers[1] }, b.map { $0.layers[1] })
        XCTAssertGreaterThan(try renderPSNR(model, "refined.hvt"), try renderPSNR(model, "unrefined.hvt"))
        for bad in [["--mask-ratio", "1.5"], ["--mask-ratio", "0.5", "--mask-strategy", "none"], ["--mask-seed", "3"]] {
            r = try Tools.run("hv-encode", ["--model", model] + bad + [dir + "/in.y4m", "-o", dir + "/bad.hvt"])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.hvt"))
        }
    }

    func testEncodeRenderRoundTripAndModelMismatch() throws {
        let model = try makeModel("m1", seed: 1)
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 2 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/in.y4m"), 0)
        var r = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m", "-o", dir + "/a.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Deterministic: the same input gives the same bytes.
        r = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m"])
        XCTAssertEqual(r.stdout, try Data(contentsOf: URL(fileURLWithPath: dir + "/a.hvt")))
        // 16 frames → two clips of 8.
        r = try Tools.run("hv-info", [dir + "/a.hvt", "--json"])
        XCTAssertEqual(r.status, 0)
        let info = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
        XCTAssertEqual((info["clips"] as! [Any]).count, 2)
        // A report that cannot be written is an I/O error, not a silent success.
        r = try Tools.run("hv-info", [dir + "/a.hvt"], stdoutFile: "/dev/full")
        XCTAssertEqual(r.status, 74, r.stderr)
        r = try Tools.run("hv-metrics", [dir + "/in.y4m", dir + "/in.y4m"], stdoutFile: "/dev/full")
        XCTAssertEqual(r.status, 74, r.stderr)
        // Mask, then render every layer and the coarse layer alone.
        r = try Tools.run("hv-mask", [dir + "/a.hvt", "-o", dir + "/m.hvt", "--ratio", "0.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Something was masked, re-masking the same way passes the file through, another way is refused.
        r = try Tools.run("hv-info", [dir + "/m.hvt", "--json"])
        let masked = ((try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any])["clips"] as! [[String: Any]])
            .flatMap { $0["layers"] as! [[String: Any]] }.map { $0["maskedTokens"] as! Int }.reduce(0, +)
        XCTAssertGreaterThan(masked, 0)
        r = try Tools.run("hv-mask", [dir + "/m.hvt", "--ratio", "0.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, try Data(contentsOf: URL(fileURLWithPath: dir + "/m.hvt")), "idempotent")
        for other in [["--ratio", "0.85"], ["--ratio", "0.5", "--layers", "1"], ["--ratio", "0.5", "--seed", "5"]] {
            r = try Tools.run("hv-mask", [dir + "/m.hvt", "-o", dir + "/m2.hvt"] + other)
            XCTAssertEqual(r.status, 65, "\(other): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m2.hvt"))
            // Refused before the first byte: nothing half-written on stdout either.
            r = try Tools.run("hv-mask", [dir + "/m.hvt"] + other)
            XCTAssertEqual(r.status, 65, "\(other): \(r.stderr)")
            XCTAssertEqual(r.stdout.count, 0, "\(other): partial stream on stdout")
        }
        // The header records what was done.
        r = try Tools.run("hv-info", [dir + "/m.hvt", "--json"])
        let record = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
        XCTAssertEqual(record["maskedLayers"] as? [Int], [0])
        XCTAssertEqual(record["maskSeed"] as? Int, 0)
        XCTAssertEqual(record["version"] as? String, "1.1")
        for layers in ["0,1", "1"] {
            r = try Tools.run("hv-render", ["--model", model, dir + "/m.hvt", "--layers", layers, "-o", dir + "/out.y4m"])
            XCTAssertEqual(r.status, 0, r.stderr)
            r = try Tools.run("hv-metrics", [dir + "/in.y4m", dir + "/out.y4m", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let m = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
            XCTAssertEqual(m["frames"] as? Int, 16)
        }
        // A contact sheet that cannot be written (a full disk) is one line and exit 74, not a Foundation dump.
        try FileManager.default.createSymbolicLink(atPath: dir + "/full.png", withDestinationPath: "/dev/full")
        r = try Tools.run("hv-render", ["--model", model, dir + "/m.hvt", "-o", dir + "/out.y4m", "--contact-sheet", dir + "/full.png"])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix("No space left on device\n") && r.stderr.split(separator: "\n").count == 1, r.stderr)
        // mp4 out: every frame readable (the muxer's edit list once cut the last one: 15 of 16).
        r = try Tools.run("hv-render", ["--model", model, dir + "/m.hvt", "-o", dir + "/out.mp4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Tools.sh("test \"$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 \(dir!)/out.mp4)\" = 16"), 0,
                       "the mp4 must hold all 16 frames")
        // Tokens from model 1 are refused by model 2, naming both.
        let other = try makeModel("m2", seed: 2)
        r = try Tools.run("hv-render", ["--model", other, dir + "/a.hvt", "-o", dir + "/x.y4m"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("hitvideo-tiny@") && r.stderr.contains("but this model is"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.y4m"))
        // Wrong input size: refused with the hv-decode hint.
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=48x48:rate=8 -t 1 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/big.y4m"), 0)
        r = try Tools.run("hv-encode", ["--model", model, dir + "/big.y4m", "-o", dir + "/b.hvt"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("hv-decode --size 32 --fps 8"), r.stderr)
    }

    func testMetricsIdenticalAndMismatched() throws {
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=64x64:rate=8 -t 1 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/a.y4m"), 0)
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 1 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/b.y4m"), 0)
        var r = try Tools.run("hv-metrics", [dir + "/a.y4m", dir + "/a.y4m", "--json", "--plot", dir + "/p.svg", "--per-frame", dir + "/f.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
        XCTAssertEqual(m["psnr"] as? Double, 100)
        XCTAssertEqual(m["ssim"] as? Double ?? 0, 1, accuracy: 1e-9)
        XCTAssertTrue(try String(contentsOfFile: dir + "/p.svg", encoding: .utf8).hasPrefix("<svg"))
        XCTAssertEqual(try String(contentsOfFile: dir + "/f.csv", encoding: .utf8).split(separator: "\n").count, 9)
        r = try Tools.run("hv-metrics", [dir + "/a.y4m", dir + "/b.y4m"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("32x32"), r.stderr)
    }
}
