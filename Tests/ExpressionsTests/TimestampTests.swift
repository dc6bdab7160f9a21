import Foundation
import Testing

@testable import Values

@Suite struct TimestampTests {
    /// The digit-by-digit writer gives the format style's text, to the millisecond, across its
    /// whole range: at the edges of seconds, days, leap years and of the range itself, at random
    /// times, and at times as a clock makes them (the fraction of the time since 2001 is
    /// truncated, as this toolchain's format style does; a toolchain that rounds fails here).
    @Test func theFastWriterMatchesTheFormatStyle() throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var times: [Double] = [
            0, -0.0005, 0.9995, 0.999_999_9, 1.0005, -1, -86_400.5, 951_782_400, 951_868_799.999, 1_764_547_200.9999,
            1_200_252_375.79,
            -2_208_988_800, 7_258_118_399.999, 4_107_542_399.5,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { times.append(Double.random(in: -2_208_988_800..<7_258_118_400, using: &generator)) }
        for _ in 0..<20_000 {
            times.append(
                Double(Int.random(in: 0...4_000_000_000, using: &generator)) + Double(
                    Int.random(in: 0...999, using: &generator)) / 1000)
        }
        var dates = times.map { Date(timeIntervalSince1970: $0) }
        // As a clock makes them: times since 2001 with every bit of the fraction set, e.g. just
        // under half a second (which the time since 1970 cannot hold exactly).
        let now = Date().timeIntervalSinceReferenceDate.rounded(.down)
        dates += [0.5 - 0x1p-23, 0.25 - 0x1p-22, 0.999 + 0x1p-23, 0.001 - 0x1p-23].map {
            Date(timeIntervalSinceReferenceDate: now + $0)
        }
        for _ in 0..<20_000 {
            dates.append(Date(timeIntervalSinceReferenceDate: Double.random(in: -3.1e9..<6.2e9, using: &generator)))
        }
        for _ in 0..<20_000 {
            dates.append(Date(timeIntervalSinceReferenceDate: now + Double.random(in: 0..<86_400, using: &generator)))
        }
        for date in dates {
            let fast = try #require(
                Timestamp.fastRFC3339(date), "no fast text for \(date.timeIntervalSinceReferenceDate)")
            #expect(fast == style.format(date), "at \(date.timeIntervalSinceReferenceDate) since 2001")
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
