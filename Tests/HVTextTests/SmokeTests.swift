import XCTest

final class HVTextTestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
