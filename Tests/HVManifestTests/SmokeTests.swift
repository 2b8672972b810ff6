import XCTest

final class HVManifestTestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
