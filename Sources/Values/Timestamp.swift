import Foundation

/// RFC 3339 / ISO 8601 times, written and read in one place. The format styles are Sendable
/// values made once, not a formatter built per call.
public enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let whole = Date.ISO8601FormatStyle()
    private static let dateOnly = Date.ISO8601FormatStyle().year().month().day()

    /// RFC 3339 in UTC with milliseconds: `2026-11-29T04:26:07.690Z`.
    public static func rfc3339(_ date: Date) -> String {
        fastRFC3339(date) ?? withFraction.format(date)
    }

    /// `rfc3339` for the years 1900 to 2199, written digit by digit (every instance's start
    /// records its time, and the format style costs a calendar computation). Its milliseconds
    /// are truncated from the fraction of the time since 2001 (the value a `Date` holds, which the
    /// format style of this toolchain's Foundation truncates too), in the Gregorian calendar
    /// (older dates, where Foundation turns Julian, take the format style).
    static func fastRFC3339(_ date: Date) -> String? {
        let time = date.timeIntervalSinceReferenceDate
        let whole = time.rounded(.down)
        // 1900-01-01 to 2200-01-01, in seconds since 2001.
        guard whole >= -3_187_296_000, whole < 6_279_811_200 else { return nil }
        let milliseconds = Int(((time - whole) * 1000).rounded(.down))
        var seconds = Int(whole) + 978_307_200
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        seconds -= days * 86_400
        // Days since 1970 to a civil date (H. Hinnant's `civil_from_days`).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, digits: Int, at offset: Int) {
                var value = value
                for i in stride(from: offset + digits - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, digits: 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, digits: 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, digits: 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(seconds / 3_600, digits: 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(seconds / 60 % 60, digits: 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(seconds % 60, digits: 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(milliseconds, digits: 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// Reads an RFC 3339 date-time (with or without fractional seconds, any offset) or a plain
    /// date (`2026-11-27`, midnight UTC).
    public static func parse(_ text: String) -> Date? {
        (try? withFraction.parse(text)) ?? (try? whole.parse(text)) ?? (try? dateOnly.parse(text))
    }
}

extension Duration {
    /// The duration in seconds, as a `Double` (for logs, metrics and reports).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
