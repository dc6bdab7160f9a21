import Expressions
import Foundation
import Integrations
import ProcessModel
import Testing
import Values

@Suite struct RequestBuilderTests {
    let context: JSONObject = [
        "base": "https://erp.example.ru/api", "orderId": "A&B?/1 2", "city": "Москва", "serialNumber": "SN-001",
        "qty": 3, "price": 10.5, "paid": true, "customer": ["name": "ООО «Ромашка»", "vip": false],
        "items": [["sku": "X", "n": 1]], "created": "2026-03-05T08:09:10Z", "nothing": nil,
    ]
    let environment = RenderEnvironment(
        now: Date(timeIntervalSince1970: 1_767_261_600), timeZone: TimeZone(identifier: "Europe/Moscow")!,
        environment: ["PROCRUN_SECRET_TOKEN": "s3cr3t-value"])

    func webhook(_ xmlAttributes: String, _ children: String = "") throws -> WebhookConfig {
        let process = try loadProcess(
            """
            <startEvent id="s"/><serviceTask id="w"><extensionElements><procrun:webhook \(xmlAttributes)>\(children)</procrun:webhook></extensionElements></serviceTask>
            <endEvent id="e"/><sequenceFlow id="f" sourceRef="s" targetRef="w"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/>
            """)
        return process.nodes[1].webhook!
    }

    func build(_ config: WebhookConfig) throws -> WebhookRequest {
        try RequestBuilder.build(
            config, context: context, idempotencyKey: "key-1", userAgent: "procrun/test", environment: environment)
    }

    @Test func urlValuesArePercentEncodedExceptALeadingBase() throws {
        let request = try build(
            try webhook(#"url="{$base}/orders/{$orderId}/{$city}?d={DateTime(&quot;DD.MM.YYYY hh:mm&quot;)}""#))
        #expect(
            request.http.url
                == "https://erp.example.ru/api/orders/A%26B%3F%2F1%202/%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0?d=01.01.2026%2013%3A00"
        )
    }

    @Test func jsonBodyKeepsTypes() throws {
        let request = try build(
            try webhook(
                #"url="http://x/""#,
                """
                <procrun:param field="serialNumber" name="serial_number"/><procrun:param field="qty"/><procrun:param field="price"/>
                <procrun:param field="paid"/><procrun:param field="customer.name" name="customer"/><procrun:param field="items"/>
                <procrun:param field="nothing"/><procrun:param field="created"/>
                """))
        #expect(request.http.method == "POST")
        #expect(
            String(decoding: request.http.body!, as: UTF8.self)
                == #"{"serial_number":"SN-001","qty":3,"price":10.5,"paid":true,"customer":"ООО «Ромашка»","items":[{"sku":"X","n":1}],"nothing":null,"created":"2026-03-05T08:09:10Z"}"#
        )
        #expect(
            request.http.headers.map { "\($0.name): \($0.value)" } == [
                "Content-Type: application/json", "Idempotency-Key: key-1", "User-Agent: procrun/test",
            ])
    }

    @Test func formBodyEncodesScalarsAsTextAndStructuresAsJSON() throws {
        let request = try build(
            try webhook(
                #"url="http://x/" type="form""#,
                """
                <procrun:param field="orderId" name="order id"/><procrun:param field="qty"/><procrun:param field="customer"/>
                """))
        #expect(request.http.headers.first?.value == "application/x-www-form-urlencoded")
        #expect(
            String(decoding: request.http.body!, as: UTF8.self)
                == "order+id=A%26B%3F%2F1+2&qty=3&customer=%7B%22name%22%3A%22%D0%9E%D0%9E%D0%9E+%C2%AB%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0%C2%BB%22%2C%22vip%22%3Afalse%7D"
        )
    }

    @Test func textBodyRendersTheTemplate() throws {
        let request = try build(
            try webhook(
                #"url="http://x/" type="text""#,
                """
                <procrun:text>Заказ {$orderId} от {DateTime("D MMMM YYYY", {$created}, "ru_RU")} для {$customer.name}; {"raw": true}</procrun:text>
                """))
        #expect(request.http.headers.first?.value == "text/plain; charset=utf-8")
        #expect(
            String(decoding: request.http.body!, as: UTF8.self)
                == #"Заказ A&B?/1 2 от 5 марта 2026 для ООО «Ромашка»; {"raw": true}"#)
    }

    @Test func getAppendsParametersToTheQueryString() throws {
        let request = try build(
            try webhook(
                #"url="http://x/find?source=procrun" method="GET""#,
                """
                <procrun:param field="city"/><procrun:param field="qty" name="n"/>
                """))
        #expect(request.http.method == "GET")
        #expect(request.http.body == nil)
        #expect(request.http.url == "http://x/find?source=procrun&city=%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0&n=3")
        #expect(!request.http.headers.contains { $0.name == "Content-Type" })
    }

    @Test func secretsComeFromTheEnvironmentAndAreRedacted() throws {
        let request = try build(
            try webhook(
                #"url="http://x/{$secrets.TOKEN}/y?k={$secrets.TOKEN}""#,
                """
                <procrun:header name="Authorization" value="Bearer {$secrets.TOKEN}"/>
                """))
        #expect(request.http.headers.last.map { "\($0.name): \($0.value)" } == "Authorization: Bearer s3cr3t-value")
        #expect(request.secrets == ["s3cr3t-value", "s3cr3t-value", "s3cr3t-value"])
        #expect(request.displayURL == "http://x/***/y")
        #expect(request.redact("failed at http://x/s3cr3t-value") == "failed at http://x/***")
    }

    /// Issue 11: a webhook execution's request is built once (a snapshot) and every try resolves
    /// the same snapshot: later changes of the context and the clock do not reach it; secrets stay
    /// references in it (and in its stored form) and are read from the environment at send time.
    @Test func aSnapshotKeepsSecretsAsReferencesAndResolvesToTheSameBytes() throws {
        let config = try webhook(
            #"url="{$base}/orders/{$orderId}?k={$secrets.TOKEN}" type="text""#,
            """
            <procrun:header name="Authorization" value="Bearer {$secrets.TOKEN}"/>
            <procrun:header name="X-Sent" value="{DateTime(&quot;DD.MM.YYYY hh:mm&quot;)}"/>
            <procrun:text>token={$secrets.TOKEN}; {DateTime("YYYY", {$secrets.SINCE})}; {$city}</procrun:text>
            """)
        var secrets = environment.environment
        secrets["PROCRUN_SECRET_SINCE"] = "2024-05-06T07:08:09Z"
        let first = RenderEnvironment(now: environment.now, timeZone: environment.timeZone, environment: secrets)
        let snapshot = try RequestBuilder.snapshot(
            config, context: context, idempotencyKey: "key-1", userAgent: "procrun/test", environment: first)
        let built = try RequestBuilder.build(
            config, context: context, idempotencyKey: "key-1", userAgent: "procrun/test", environment: first)

        let stored = WebhookPreparation.request(snapshot).encoded
        #expect(
            !String(decoding: stored, as: UTF8.self).contains("s3cr3t")
                && !String(decoding: stored, as: UTF8.self).contains("2024"))
        #expect(WebhookPreparation(encoded: stored) == .request(snapshot))
        guard case .request(let restored)? = WebhookPreparation(encoded: stored) else { return }

        // An hour later, the same snapshot sends the same bytes.
        let later = RenderEnvironment(
            now: first.now.addingTimeInterval(3600), timeZone: first.timeZone, environment: secrets)
        let retry = try RequestBuilder.resolve(restored, webhook: config, environment: later)
        #expect(retry.http.url == "https://erp.example.ru/api/orders/A%26B%3F%2F1%202?k=s3cr3t-value")
        #expect(
            retry.http.url == built.http.url && retry.http.method == built.http.method
                && retry.http.body == built.http.body)
        #expect(
            retry.http.headers.map { "\($0.name): \($0.value)" } == built.http.headers.map { "\($0.name): \($0.value)" }
        )
        #expect(retry.http.headers.contains { $0.name == "X-Sent" && $0.value == "01.01.2026 13:00" })
        #expect(String(decoding: retry.http.body!, as: UTF8.self) == "token=s3cr3t-value; 2024; Москва")
        #expect(retry.redact(retry.http.url) == "https://erp.example.ru/api/orders/A%26B%3F%2F1%202?k=***")
        // Secrets are read when the try is sent: a secret removed meanwhile fails the try.
        var without = secrets
        without["PROCRUN_SECRET_TOKEN"] = nil
        #expect {
            _ = try RequestBuilder.resolve(
                restored, webhook: config,
                environment: RenderEnvironment(now: later.now, timeZone: later.timeZone, environment: without))
        } throws: {
            ($0 as? RenderError)?.message == "secret 'TOKEN' is not set (environment variable PROCRUN_SECRET_TOKEN)"
        }

        // A failure to build is stored as such; bytes that are not a stored request are refused.
        #expect(
            WebhookPreparation(encoded: WebhookPreparation.failed(message: "variable 'x' is not set").encoded)
                == .failed(message: "variable 'x' is not set"))
        #expect(WebhookPreparation(encoded: Array("{\"v\":2}".utf8)) == nil)
        #expect(WebhookPreparation(encoded: Array("not json".utf8)) == nil)
    }

    @Test func missingValuesFailBeforeSending() throws {
        let cases: [(String, String, String)] = [
            (#"url="http://x/{$missing}""#, "", "variable 'missing' is not set"),
            (#"url="http://x/""#, #"<procrun:param field="customer.inn"/>"#, "variable 'customer.inn' is not set"),
            (
                #"url="http://x/{$secrets.OTHER}""#, "",
                "secret 'OTHER' is not set (environment variable PROCRUN_SECRET_OTHER)"
            ),
            (#"url="http://x/{DateTime(&quot;YYYY&quot;, {$city})}""#, "", "variable 'city' is not a date"),
            (#"url="http://x/""#, #"<procrun:header name="X" value="{$multi}"/>"#, "variable 'multi' is not set"),
        ]
        for (attributes, children, message) in cases {
            #expect {
                _ = try build(try webhook(attributes, children))
            } throws: { ($0 as? RenderError)?.message.hasPrefix(message) == true }
        }
        var withBreak = context
        withBreak["multi"] = "a\r\nInjected: yes"
        #expect {
            _ = try RequestBuilder.build(
                try webhook(#"url="http://x/""#, #"<procrun:header name="X" value="{$multi}"/>"#), context: withBreak,
                idempotencyKey: "k", userAgent: "u", environment: environment)
        } throws: { ($0 as? RenderError)?.message == "header 'X' would contain a line break" }
    }

    @Test func aNULInAHeaderValueOrTheURLFailsTheTry() throws {
        var withNUL = context
        withNUL["cut"] = "a\u{0}b"
        withNUL["cutBase"] = "http://x\u{0}.evil/"
        let cases: [(String, String, String)] = [
            (
                #"url="http://x/""#, #"<procrun:header name="X-Tag" value="v={$cut}"/>"#,
                "header 'X-Tag' would contain a NUL character"
            ),
            (
                #"url="http://x/""#, #"<procrun:header name="Authorization" value="Bearer {$cut}"/>"#,
                "header 'Authorization' would contain a NUL character"
            ),
            // A leading variable is the base URL and is not percent-encoded.
            (#"url="{$cutBase}y""#, "", "the url would contain a NUL character"),
        ]
        for (attributes, children, message) in cases {
            #expect {
                _ = try RequestBuilder.build(
                    try webhook(attributes, children), context: withNUL, idempotencyKey: "k", userAgent: "u",
                    environment: environment)
            } throws: { ($0 as? RenderError)?.message == message }
        }
        // Elsewhere in the URL a NUL is percent-encoded like any other character.
        let request = try RequestBuilder.build(
            try webhook(#"url="http://x/{$cut}""#), context: withNUL, idempotencyKey: "k", userAgent: "u",
            environment: environment)
        #expect(request.http.url == "http://x/a%00b")
    }

    @Test func credentialHeadersAndRenderErrorsAreRedacted() throws {
        var withCredentials = context
        withCredentials["basic"] = "dXNlcjpwYXNz"
        let request = try RequestBuilder.build(
            try webhook(#"url="http://x/""#, #"<procrun:header name="authorization" value="Basic {$basic}"/>"#),
            context: withCredentials, idempotencyKey: "k", userAgent: "u", environment: environment)
        #expect(request.redact("sent Basic dXNlcjpwYXNz; again dXNlcjpwYXNz") == "sent ***; again ***")
        // A secret that is not a date is quoted, JSON-escaped, in the error: hidden there too.
        let awkward = RenderEnvironment(
            now: environment.now, timeZone: environment.timeZone, environment: ["PROCRUN_SECRET_TOKEN": "a\"b\\c/ё"])
        #expect {
            _ = try RequestBuilder.build(
                try webhook(#"url="http://x/{DateTime(&quot;YYYY&quot;, {$secrets.TOKEN})}""#), context: context,
                idempotencyKey: "k", userAgent: "u", environment: awkward)
        } throws: { ($0 as? RenderError)?.message == #"variable 'secrets.TOKEN' is not a date ("***")"# }
    }
}
