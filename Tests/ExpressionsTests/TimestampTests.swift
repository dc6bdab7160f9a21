import Foundation
import Testing

@testable import Values

@Suite struct TimestampTests {
    /// The digit-by-digit writer gives the format style's text, to the millisecond, across its
    /// whole range: at the edges of seconds, days, leap years and of the range itself, and at
    /// random times (the fraction is truncated from the binary value, as the format style does).
    @Test func theFastWriterMatchesTheFormatStyle() throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var times: [Double] = [
            0, -0.0005, 0.9995, 0.999_999_9, 1.0005, -1, -86_400.5, 951_782_400, 951_868_799.999, 1_764_547_200.9999, 1_200_252_375.79,
            -2_208_988_800, 7_258_118_399.999, 4_107_542_399.5,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { times.append(Double.random(in: -2_208_988_800..<7_258_118_400, using: &generator)) }
        for _ in 0..<20_000 { times.append(Double(Int.random(in: 0...4_000_000_000, using: &generator)) + Double(Int.random(in: 0...999, using: &generator)) / 1000) }
        for time in times {
            let date = Date(timeIntervalSince1970: time)
            let fast = try #require(Timestamp.fastRFC3339(date), "no fast text for \(time)")
            #expect(fast == style.format(date), "at \(time)")
        }
        // Outside 1900–2199 the format style writes it (Julian dates before 1582, five-digit years).
        for time in [-2_208_988_800.5, 7_258_118_400, -40_000_000_000, 300_000_000_000] {
            let date = Date(timeIntervalSince1970: time)
            #expect(Timestamp.fastRFC3339(date) == nil)
            #expect(Timestamp.rfc3339(date) == style.format(date))
        }
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_796_010_367.69)) == "2026-11-30T03:46:07.690Z")
    }
}
