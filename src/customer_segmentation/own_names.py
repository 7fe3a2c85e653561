"""What a column's name says, for ``kedro configure-data``: its words
(``CustomerId`` -> customer id, ``PURCHASES_TRX`` -> purchases trx), and
whether it names a customer id, a plain id, an id or code of anything, or a
person's name or contact detail. Customer tables (``own_columns``) and
transaction logs (``own_log_columns``) read names the same way."""

from __future__ import annotations

import re

_CUSTOMER = "customer|client|account|acct|member|user|cust|subscriber|consumer|buyer|shopper|patron|contact|person"
_ID_SUFFIX = "id|ids|key|ref|reference|number|num|no|nr|code|uuid|guid"
_CUSTOMER_ID = re.compile(rf"^(id)?({_CUSTOMER})({_ID_SUFFIX})$")
_PLAIN_ID = {"id", "uid", "uuid", "guid"}
_ID_WORDS = set(_ID_SUFFIX.split("|"))
_PERSONAL = {
    *("surname", "firstname", "lastname", "fullname", "forename", "email", "mail", "phone"),
    *("mobile", "telephone", "tel", "fax", "address", "street", "zip", "zipcode", "postcode"),
    *("postal", "ssn", "iban", "passport"),
}
_NAME_QUALIFIERS = {
    "first",
    "last",
    "full",
    "given",
    "family",
    "sur",
    "fore",
    *_CUSTOMER.split("|"),
}


def name_words(name: str) -> list[str]:
    """A column name as lower-case words: ``CustomerId`` -> [customer, id]."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))]


def joined_name(name: str) -> str:
    """A column name's words run together: ``Customer_ID`` -> customerid."""
    return "".join(name_words(name))


def is_customer_id_named(name: str) -> bool:
    """customer_id, CUST_ID, customerID, Customer ID, CLIENTNUM, AccountNo, ..."""
    return bool(_CUSTOMER_ID.match(joined_name(name)))


def is_plain_id_named(name: str) -> bool:
    """Named plain id: ``id``, ``ID``, ``uid``, ``uuid``, ``guid``."""
    return joined_name(name) in _PLAIN_ID


def is_id_named(name: str) -> bool:
    """Named like an identifier of anything: ends in id, number, no, code, key, ..."""
    words = name_words(name)
    return bool(words) and (
        words[-1] in _ID_WORDS or words[0] == "id" or joined_name(name) in _PLAIN_ID
    )


def is_personal(name: str) -> bool:
    """A person's name or contact detail: Surname, first_name, email, Phone, ZIP, ..."""
    words = name_words(name)
    if not words:
        return False
    if words[-1] == "name":
        return len(words) == 1 or words[-2] in _NAME_QUALIFIERS
    return words[-1] in _PERSONAL or joined_name(name) in _PERSONAL
