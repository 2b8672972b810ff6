import XCTest

final class HVMediaTestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
