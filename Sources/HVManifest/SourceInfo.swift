// Provenance of videos (schema v3): the source a video was taken from — a package, an archive, a site — its kind
// (free text; our footage uses real, photo and cartoon) and its licence as the source states it.
import Foundation

public struct SourceInfo: Equatable, Codable, Sendable {
    public var name: String
    public var kind: String?
    public var package: String?
    public var licence: String?
    public init(name: String, kind: String? = nil, package: String? = nil, licence: String? = nil) {
        self.name = name; self.kind = kind; self.package = package; self.licence = licence
    }
}
