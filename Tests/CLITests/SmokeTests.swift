import XCTest

final class CLITestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
