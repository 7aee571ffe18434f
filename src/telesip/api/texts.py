"""The API's own error texts (en, ru): the codes the HTTP layer adds to the catalog's.

Domain errors are worded by the message catalog (``error.<code>``); these are the errors only
the HTTP API has (a malformed body, an unknown route, idempotency keys, preconditions).
"""

from __future__ import annotations

#: titles where the code read as words would say it badly
TITLES: dict[str, str] = {
    "invalid_json": "Malformed JSON",
    "invalid_api_key": "Invalid API key",
    "http_method_not_allowed": "Method not allowed",
    "internal_error": "Internal error",
}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "invalid_api_key": (
            "Missing, unknown or revoked API key; send 'Authorization: Bearer <key>'."
        ),
        "out_of_scope": "This API key does not manage {what}.",
        "invalid_json": "The request body is not valid JSON.",
        "invalid_request": "The request has {count} invalid part(s); see errors.",
        "payload_too_large": "The request body is over {limit} bytes.",
        "not_found": "There is nothing at this address.",
        "http_method_not_allowed": "This address does not take {method}; see the Allow header.",
        "internal_error": "Internal error.",
        "invalid_idempotency_key": (
            "Idempotency-Key must be 1-255 visible ASCII characters (a UUID, say)."
        ),
        "idempotency_key_reused": (
            "This Idempotency-Key was used with another request; use a new key for a new request."
        ),
        "idempotency_in_progress": (
            "A request with this Idempotency-Key is still being processed; retry shortly."
        ),
        "precondition_failed": (
            "The settings of SIP account #{account_id} changed since you read them (If-Match "
            "is not the current ETag); read them again."
        ),
    },
    "ru": {
        "invalid_api_key": (
            "Ключ API не передан, неизвестен или отозван; передайте 'Authorization: Bearer <ключ>'."
        ),
        "out_of_scope": "Этот ключ API не управляет: {what}.",
        "invalid_json": "Тело запроса — не корректный JSON.",
        "invalid_request": "В запросе ошибок: {count}; см. errors.",
        "payload_too_large": "Тело запроса больше {limit} байт.",
        "not_found": "По этому адресу ничего нет.",
        "http_method_not_allowed": "Этот адрес не принимает {method}; см. заголовок Allow.",
        "internal_error": "Внутренняя ошибка.",
        "invalid_idempotency_key": (
            "Idempotency-Key — от 1 до 255 видимых символов ASCII (например, UUID)."
        ),
        "idempotency_key_reused": (
            "Этот Idempotency-Key уже использован с другим запросом; для нового запроса нужен "
            "новый ключ."
        ),
        "idempotency_in_progress": (
            "Запрос с этим Idempotency-Key ещё выполняется; повторите чуть позже."
        ),
        "precondition_failed": (
            "Настройки SIP-аккаунта #{account_id} изменились после чтения (If-Match не равен "
            "текущему ETag); прочитайте их снова."
        ),
    },
}
