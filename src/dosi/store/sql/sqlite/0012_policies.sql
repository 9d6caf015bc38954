-- access policies: one JSON document each (see dosi.security.policy)
CREATE TABLE policies (
    policy_id  TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
