// Loads the golden frames and the scikit-image values written by Golden/make_golden.py.
import Foundation
import HVMedia
import XCTest

struct GoldenPair {
    var index: Int
    var distortion: String
    var ref: RGBFrame
    var dist: RGBFrame
    var psnr: Double
    var ssim: Double
    var ssimLuma: Double
    var msssim: Double?
    var msssimLuma: Double?
}

enum Golden {
    static func url(_ name: String, _ ext: String) throws -> URL {
        guard let u = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Golden") else {
            throw NSError(domain: "Golden", code: 1, userInfo: [NSLocalizedDescriptionKey: "missing Golden/\(name).\(ext)"])
        }
        return u
    }

    static func frame(_ name: String, width: Int, height: Int) throws -> RGBFrame {
        let bytes = [UInt8](try Data(contentsOf: url(name, "rgb")))
        XCTAssertEqual(bytes.count, width * height * 3, name)
        return RGBFrame(width: width, height: height, pixels: bytes)
    }

    static func pairs() throws -> [GoldenPair] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url("golden", "json"))) as! [[String: Any]]
        return try json.map { g in
            let k = g["pair"] as! Int, w = g["width"] as! Int, h = g["height"] as! Int
            return GoldenPair(index: k, distortion: g["distortion"] as! String,
                              ref: try frame("ref_\(g["ref"] as! String)", width: w, height: h),
                              dist: try frame("dist_\(k)", width: w, height: h),
                              psnr: g["psnr"] as! Double, ssim: g["ssim"] as! Double, ssimLuma: g["ssim_luma"] as! Double,
                              msssim: g["msssim"] as? Double, msssimLuma: g["msssim_luma"] as? Double)
        }
    }

    /// A w × h window of `f` starting at (x0, y0).
    static func crop(_ f: RGBFrame, x0: Int, y0: Int, width w: Int, height h: Int) -> RGBFrame {
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for r in 0..<h {
            for c in 0..<(3 * w) { p[(r * w) * 3 + c] = f.pixels[((y0 + r) * f.width + x0) * 3 + c] }
        }
        return RGBFrame(width: w, height: h, pixels: p)
    }
}
