import XCTest

final class HVFormatTestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
