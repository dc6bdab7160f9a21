import Foundation

/// ELMA365's `DateTime("FORMAT")` tokens: YYYY YY MMMM MMM MM M DDDD DDD DD D hh mm ss.
/// `hh` is the 24-hour clock, as ELMA365 users read it; DDDD/DDD are the day of the year
/// (zero-padded / plain), as in moment.js, which ELMA365's format strings follow.
public enum DateFormat {
    public enum Locale: String, Sendable, CaseIterable {
        case enUS = "en_US"
        case ruRU = "ru_RU"

        public init?(identifier: String) {
            switch identifier.replacingOccurrences(of: "-", with: "_").lowercased() {
            case "en_us", "en": self = .enUS
            case "ru_ru", "ru": self = .ruRU
            default: return nil
            }
        }

        var monthNames: [String] {
            switch self {
            case .enUS:
                [
                    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                    "November", "December",
                ]
            case .ruRU:
                [
                    "январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
                    "ноябрь", "декабрь",
                ]
            }
        }

        /// The form a month takes after a day number ("5 января").
        var monthNamesAfterDay: [String] {
            switch self {
            case .enUS: monthNames
            case .ruRU:
                [
                    "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
                    "ноября", "декабря",
                ]
            }
        }

        var shortMonthNames: [String] {
            switch self {
            case .enUS: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            case .ruRU:
                ["янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."]
            }
        }
    }

    private static let tokens = ["YYYY", "YY", "MMMM", "MMM", "MM", "M", "DDDD", "DDD", "DD", "D", "hh", "mm", "ss"]

    /// Formats `date` in `timeZone`. Characters that are not tokens are copied as they are.
    public static func format(_ date: Date, _ pattern: String, locale: Locale = .enUS, timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        let year = parts.year ?? 1970
        let month = parts.month ?? 1
        let day = parts.day ?? 1
        func pad(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var output = ""
        var sawDay = false
        var rest = Substring(pattern)
        outer: while !rest.isEmpty {
            for token in tokens where rest.hasPrefix(token) {
                switch token {
                case "YYYY": output += pad(year, 4)
                case "YY": output += pad(year % 100, 2)
                case "MMMM": output += (sawDay ? locale.monthNamesAfterDay : locale.monthNames)[month - 1]
                case "MMM": output += locale.shortMonthNames[month - 1]
                case "MM": output += pad(month, 2)
                case "M": output += String(month)
                case "DDDD": output += pad(dayOfYear, 3)
                case "DDD": output += String(dayOfYear)
                case "DD":
                    output += pad(day, 2)
                    sawDay = true
                case "D":
                    output += String(day)
                    sawDay = true
                case "hh": output += pad(parts.hour ?? 0, 2)
                case "mm": output += pad(parts.minute ?? 0, 2)
                default: output += pad(parts.second ?? 0, 2)
                }
                rest = rest.dropFirst(token.count)
                continue outer
            }
            output.append(rest.removeFirst())
        }
        return output
    }
}
