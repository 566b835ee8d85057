//! Issue 16, the identity store end to end against the real `arca` binary and a real OpenBao
//! dev server (one of each for the whole file), every answer checked on both: entities,
//! entity aliases (and the legacy `persona` paths), groups and group aliases, lookups, merge,
//! OpenBao's error texts; logins through userpass get one entity per alias and the policies
//! of groups nested three deep; a disabled entity's token is refused. A second test restarts
//! `arca` over its storage to show the index is rebuilt at unseal.

mod common;

use common::{Answer, Server, call, init_unseal, servers, write_policy};
use serde_json::{Value, json};

async fn ok(s: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    let a = call(s, method, path, Some("root"), body).await;
    assert!(
        a.status < 300,
        "{} {method} {path}: {} {}",
        s.addr,
        a.status,
        a.body
    );
    a
}

/// Asserts a 400 with exactly `text`.
async fn refused(s: &Server, method: &str, path: &str, body: Value, text: &str) {
    let a = call(s, method, path, Some("root"), Some(body)).await;
    assert_eq!(a.status, 400, "{} {path}: {}", s.addr, a.body);
    assert_eq!(a.body["errors"], json!([text]), "{} {path}", s.addr);
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn id_of(a: &Answer) -> String {
    a.body["data"]["id"].as_str().expect("id").to_string()
}

async fn accessor(s: &Server, mount: &str) -> String {
    let a = ok(s, "GET", "sys/auth", None).await;
    a.body["data"][format!("{mount}/")]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string()
}

async fn login(s: &Server, user: &str) -> Answer {
    let a = call(
        s,
        "POST",
        &format!("auth/userpass/login/{user}"),
        None,
        Some(json!({ "password": "pw" })),
    )
    .await;
    assert_eq!(a.status, 200, "{}: {}", s.addr, a.body);
    a
}

async fn setup(s: &Server) {
    for m in ["userpass", "userpass2"] {
        ok(
            s,
            "POST",
            &format!("sys/auth/{m}"),
            Some(json!({"type": "userpass"})),
        )
        .await;
    }
    for u in ["alice", "bob", "carol"] {
        ok(
            s,
            "POST",
            &format!("auth/userpass/users/{u}"),
            Some(json!({"password": "pw", "token_policies": "tp"})),
        )
        .await;
    }
}

/// Entities: create, the same name again (204), read, update, list, delete, errors.
async fn entities(s: &Server) {
    let created = ok(
        s,
        "POST",
        "identity/entity",
        Some(json!({"name": "e1", "policies": ["p1"], "metadata": {"a": "b"}})),
    )
    .await;
    assert_eq!(created.status, 200);
    assert_eq!(
        sorted_keys(&created.body["data"]),
        ["aliases", "id", "name"]
    );
    assert_eq!(created.body["data"]["aliases"], Value::Null);
    let id = id_of(&created);
    let warned = ok(
        s,
        "POST",
        "identity/entity",
        Some(json!({"name": "ew", "bogus": 1})),
    )
    .await;
    assert_eq!(
        warned.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [bogus]"]),
        "{}",
        s.addr
    );
    let ew = id_of(&warned);
    ok(s, "DELETE", &format!("identity/entity/id/{ew}"), None).await;
    let again = ok(s, "POST", "identity/entity", Some(json!({"name": "e1"}))).await;
    assert_eq!(again.status, 204, "{}", s.addr);
    let read = ok(s, "GET", &format!("identity/entity/id/{id}"), None).await;
    let d = &read.body["data"];
    assert_eq!(
        sorted_keys(d),
        [
            "aliases",
            "creation_time",
            "direct_group_ids",
            "disabled",
            "group_ids",
            "id",
            "inherited_group_ids",
            "last_update_time",
            "merged_entity_ids",
            "metadata",
            "name",
            "namespace_id",
            "policies"
        ],
        "{}",
        s.addr
    );
    assert_eq!(d["aliases"], json!([]));
    assert_eq!(d["metadata"], json!({"a": "b"}));
    assert_eq!(d["policies"], json!(["p1"]));
    assert_eq!(d["namespace_id"], "root");
    assert_eq!(d["merged_entity_ids"], Value::Null);
    assert_eq!(d["disabled"], false);
    // Updates answer 204.
    let upd = ok(
        s,
        "POST",
        &format!("identity/entity/id/{id}"),
        Some(json!({"policies": "p1,p2"})),
    )
    .await;
    assert_eq!(upd.status, 204);
    // Names match without regard to case.
    let by_name = ok(s, "GET", "identity/entity/name/E1", None).await;
    assert_eq!(by_name.body["data"]["policies"], json!(["p1", "p2"]));
    assert_eq!(by_name.body["data"]["metadata"], json!({"a": "b"}));
    // entity/name/<name> creates when missing.
    let made = ok(s, "POST", "identity/entity/name/e9", Some(json!({}))).await;
    assert_eq!(made.status, 200);
    assert_eq!(made.body["data"]["name"], "e9");
    let names = ok(s, "LIST", "identity/entity/name", None).await;
    let mut names: Vec<String> =
        serde_json::from_value(names.body["data"]["keys"].clone()).unwrap_or_default();
    names.sort();
    assert_eq!(names, ["e1", "e9"], "{}", s.addr);
    let ids = ok(s, "LIST", "identity/entity/id", None).await;
    assert_eq!(ids.body["data"]["key_info"][&id]["name"], "e1");
    assert_eq!(
        ids.body["data"]["key_info"][&id]["aliases"],
        Value::Null,
        "{}",
        s.addr
    );
    // Errors.
    refused(
        s,
        "POST",
        "identity/entity/id/nope",
        json!({"name": "x"}),
        "entity not found from id",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity",
        json!({"id": "nope"}),
        "entity not found from id",
    )
    .await;
    refused(
        s,
        "POST",
        &format!("identity/entity/id/{id}"),
        json!({"name": "e9"}),
        "entity name is already in use",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity/batch-delete",
        json!({}),
        "missing entity ids to delete",
    )
    .await;
    // (The rest of this text differs: the SDK words mapstructure's newer error; left to
    // the SDK's converter.)
    let bad = call(
        s,
        "POST",
        "identity/entity",
        Some("root"),
        Some(json!({"name": "w2", "policies": {"a": 1}})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let text = bad.body["errors"][0].as_str().unwrap_or_default();
    assert!(
        text.starts_with(
            "Field validation failed: error converting input for field \"policies\": "
        ),
        "{text}"
    );
    refused(
        s,
        "POST",
        "identity/entity",
        json!({"name": "w2", "disabled": "maybe"}),
        "Field validation failed: error converting input for field \"disabled\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
    )
    .await;
    let missing = call(s, "GET", "identity/entity/id/nope", Some("root"), None).await;
    assert_eq!(
        (missing.status, missing.body.clone()),
        (404, json!({"errors": []}))
    );
    // A generated name when none is given.
    let anon = ok(s, "POST", "identity/entity", Some(json!({}))).await;
    let name = anon.body["data"]["name"].as_str().unwrap_or_default();
    assert!(
        name.starts_with("entity_") && name.ends_with(".root"),
        "{name}"
    );
    // Delete by name and by id, batch delete; a missing one is no error.
    assert_eq!(
        ok(s, "DELETE", "identity/entity/name/e9", None)
            .await
            .status,
        204
    );
    assert_eq!(
        ok(s, "DELETE", "identity/entity/name/e9", None)
            .await
            .status,
        204
    );
    let anon_id = id_of(&anon);
    let batch = ok(
        s,
        "POST",
        "identity/entity/batch-delete",
        Some(json!({"entity_ids": [anon_id, "nope"]})),
    )
    .await;
    assert_eq!(batch.status, 204);
    let gone = call(
        s,
        "GET",
        &format!("identity/entity/id/{anon_id}"),
        Some("root"),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        ok(s, "DELETE", &format!("identity/entity/id/{id}"), None)
            .await
            .status,
        204
    );
    let empty = call(s, "LIST", "identity/entity/id", Some("root"), None).await;
    assert_eq!(
        (empty.status, empty.body),
        (404, json!({"errors": []})),
        "{}",
        s.addr
    );
}

/// Entity aliases: create on an entity or with a new one, read, update, the one-per-mount
/// rule, list, the legacy `persona` list, delete, errors.
async fn aliases(s: &Server) {
    let acc = accessor(s, "userpass").await;
    let acc2 = accessor(s, "userpass2").await;
    let e = id_of(&ok(s, "POST", "identity/entity", Some(json!({"name": "ea"}))).await);
    let made = ok(
        s,
        "POST",
        "identity/entity-alias",
        Some(
            json!({"name": "dave", "canonical_id": e, "mount_accessor": acc,
                    "custom_metadata": {"x": "y"}}),
        ),
    )
    .await;
    assert_eq!(sorted_keys(&made.body["data"]), ["canonical_id", "id"]);
    assert_eq!(made.body["data"]["canonical_id"], e.as_str());
    let aid = id_of(&made);
    let read = ok(s, "GET", &format!("identity/entity-alias/id/{aid}"), None).await;
    let d = &read.body["data"];
    assert_eq!(
        sorted_keys(d),
        [
            "canonical_id",
            "creation_time",
            "custom_metadata",
            "id",
            "last_update_time",
            "local",
            "merged_from_canonical_ids",
            "metadata",
            "mount_accessor",
            "mount_path",
            "mount_type",
            "name",
            "namespace_id"
        ],
        "{}",
        s.addr
    );
    assert_eq!(d["mount_type"], "userpass");
    assert_eq!(d["mount_path"], "auth/userpass/");
    assert_eq!(d["custom_metadata"], json!({"x": "y"}));
    assert_eq!(d["metadata"], Value::Null);
    // The entity shows it.
    let ent = ok(s, "GET", &format!("identity/entity/id/{e}"), None).await;
    assert_eq!(ent.body["data"]["aliases"][0]["id"], aid.as_str());
    assert_eq!(
        ent.body["data"]["aliases"][0]["mount_path"],
        "auth/userpass/"
    );
    // One alias per mount per entity.
    refused(
        s,
        "POST",
        "identity/entity-alias",
        json!({"name": "dave2", "canonical_id": e, "mount_accessor": acc}),
        "Alias already exists for requested entity and mount accessor",
    )
    .await;
    // Without canonical_id: a new entity.
    let other = ok(
        s,
        "POST",
        "identity/entity-alias",
        Some(json!({"name": "erin", "mount_accessor": acc})),
    )
    .await;
    let erin = ok(
        s,
        "GET",
        &format!("identity/entity-alias/id/{}", id_of(&other)),
        None,
    )
    .await;
    assert_eq!(
        erin.body["data"]["custom_metadata"],
        json!({}),
        "{}",
        s.addr
    );
    let other_entity = other.body["data"]["canonical_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(other_entity, e);
    // Moving erin's alias to the entity that already has one on that mount is refused.
    refused(
        s,
        "POST",
        &format!("identity/entity-alias/id/{}", id_of(&other)),
        json!({"canonical_id": e}),
        "Alias cannot be updated as the given entity already has an alias for this mount ",
    )
    .await;
    // On another mount it may.
    let moved = ok(
        s,
        "POST",
        &format!("identity/entity-alias/id/{}", id_of(&other)),
        Some(json!({"canonical_id": e, "mount_accessor": acc2})),
    )
    .await;
    assert_eq!(moved.body["data"]["canonical_id"], e.as_str());
    let ent = ok(s, "GET", &format!("identity/entity/id/{e}"), None).await;
    assert_eq!(
        ent.body["data"]["aliases"].as_array().map(Vec::len),
        Some(2)
    );
    // Errors.
    refused(
        s,
        "POST",
        "identity/entity-alias",
        json!({"name": "z", "mount_accessor": "nope"}),
        "invalid mount accessor \"nope\"",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity-alias",
        json!({"name": "z"}),
        "'id' or 'mount_accessor' and 'name' must be provided",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity-alias",
        json!({"name": "z", "mount_accessor": acc, "canonical_id": "nope"}),
        "invalid canonical ID",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity-alias/id/nope",
        json!({"name": "z"}),
        "invalid alias ID provided",
    )
    .await;
    // LIST, and the legacy persona path.
    let list = ok(s, "LIST", "identity/entity-alias/id", None).await;
    let info = &list.body["data"]["key_info"][&aid];
    assert_eq!(
        sorted_keys(info),
        [
            "canonical_id",
            "custom_metadata",
            "local",
            "metadata",
            "mount_accessor",
            "mount_path",
            "mount_type",
            "name"
        ]
    );
    // `entity_id` names the entity as `canonical_id` does.
    let e2 = id_of(&ok(s, "POST", "identity/entity", Some(json!({"name": "ea2"}))).await);
    let by_old_name = ok(
        s,
        "POST",
        "identity/entity-alias",
        Some(json!({"name": "old", "mount_accessor": acc, "entity_id": e2})),
    )
    .await;
    assert_eq!(by_old_name.body["data"]["canonical_id"], e2.as_str());
    ok(s, "DELETE", &format!("identity/entity/id/{e2}"), None).await;
    let persona = ok(s, "LIST", "identity/persona/id", None).await;
    assert_eq!(persona.body["data"]["keys"], list.body["data"]["keys"]);
    let not = call(
        s,
        "GET",
        "identity/entity-alias/id/nope",
        Some("root"),
        None,
    )
    .await;
    assert_eq!((not.status, not.body), (404, json!({"errors": []})));
    assert_eq!(
        ok(
            s,
            "DELETE",
            &format!("identity/entity-alias/id/{aid}"),
            None
        )
        .await
        .status,
        204
    );
    let ent = ok(s, "GET", &format!("identity/entity/id/{e}"), None).await;
    assert_eq!(
        ent.body["data"]["aliases"].as_array().map(Vec::len),
        Some(1)
    );
    for id in [e, other_entity] {
        ok(s, "DELETE", &format!("identity/entity/id/{id}"), None).await;
    }
}

/// Groups: nesting and its loops, types, group aliases, lookups.
async fn groups(s: &Server) {
    let acc = accessor(s, "userpass").await;
    let a = ok(
        s,
        "POST",
        "identity/group",
        Some(json!({"name": "ga", "policies": ["pa"]})),
    )
    .await;
    assert_eq!(sorted_keys(&a.body["data"]), ["id", "name"]);
    let a = id_of(&a);
    assert_eq!(
        ok(s, "POST", "identity/group", Some(json!({"name": "ga"})))
            .await
            .status,
        204
    );
    let b = id_of(
        &ok(
            s,
            "POST",
            "identity/group",
            Some(json!({"name": "gb", "member_group_ids": [a]})),
        )
        .await,
    );
    refused(
        s,
        "POST",
        &format!("identity/group/id/{a}"),
        json!({"member_group_ids": [b]}),
        &format!("cyclic relationship detected for member group ID \"{b}\""),
    )
    .await;
    let read = ok(s, "GET", &format!("identity/group/id/{a}"), None).await;
    let d = &read.body["data"];
    assert_eq!(
        sorted_keys(d),
        [
            "alias",
            "creation_time",
            "id",
            "last_update_time",
            "member_entity_ids",
            "member_group_ids",
            "metadata",
            "modify_index",
            "name",
            "namespace_id",
            "parent_group_ids",
            "policies",
            "type"
        ],
        "{}",
        s.addr
    );
    assert_eq!(d["alias"], json!({}));
    assert_eq!(d["parent_group_ids"], json!([b]));
    assert_eq!(d["member_group_ids"], Value::Null);
    assert_eq!(d["type"], "internal");
    let by_name = ok(s, "GET", "identity/group/name/gb", None).await;
    assert_eq!(by_name.body["data"]["member_group_ids"], json!([a]));
    refused(
        s,
        "POST",
        "identity/group",
        json!({"name": "x", "type": "bogus"}),
        "invalid group type \"bogus\"",
    )
    .await;
    refused(
        s,
        "POST",
        &format!("identity/group/id/{a}"),
        json!({"type": "external"}),
        "group type cannot be changed",
    )
    .await;
    refused(
        s,
        "POST",
        &format!("identity/group/id/{a}"),
        json!({"name": "gb"}),
        "group name is already in use",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/group/id/nope",
        json!({}),
        "invalid group ID",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/group",
        json!({"name": "gx", "type": "external", "member_entity_ids": ["x"]}),
        "member entities can't be set manually for external groups",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/group",
        json!({"name": "gx", "type": "external", "member_group_ids": [a]}),
        "member groups can't be set for external groups",
    )
    .await;
    // Group aliases: external groups only, one each.
    refused(
        s,
        "POST",
        "identity/group-alias",
        json!({"name": "ga1", "mount_accessor": acc, "canonical_id": a}),
        "alias can't be set on an internal group",
    )
    .await;
    let ext = id_of(
        &ok(
            s,
            "POST",
            "identity/group",
            Some(json!({"name": "gext", "type": "external"})),
        )
        .await,
    );
    let ga = ok(
        s,
        "POST",
        "identity/group-alias",
        Some(json!({"name": "ldap-team", "mount_accessor": acc, "canonical_id": ext})),
    )
    .await;
    assert_eq!(sorted_keys(&ga.body["data"]), ["canonical_id", "id"]);
    let gaid = id_of(&ga);
    let gread = ok(s, "GET", &format!("identity/group-alias/id/{gaid}"), None).await;
    assert_eq!(gread.body["data"]["mount_type"], "userpass");
    assert_eq!(gread.body["data"]["canonical_id"], ext.as_str());
    let g = ok(s, "GET", &format!("identity/group/id/{ext}"), None).await;
    assert_eq!(g.body["data"]["alias"]["name"], "ldap-team");
    refused(
        s,
        "POST",
        "identity/group-alias",
        json!({"name": "ldap-team", "mount_accessor": acc}),
        "combination of mount and group alias name is already in use",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/group-alias",
        json!({"name": "z"}),
        "missing mount_accessor",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/group-alias",
        json!({"mount_accessor": acc, "canonical_id": ext}),
        "missing alias name",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/group-alias",
        json!({"name": "z", "mount_accessor": acc, "canonical_id": "nope"}),
        "invalid group ID given in 'canonical_id'",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/group-alias/id/nope",
        json!({"name": "z"}),
        "invalid group alias ID",
    )
    .await;
    let gl = ok(s, "LIST", "identity/group-alias/id", None).await;
    assert_eq!(gl.body["data"]["keys"], json!([gaid]));
    // Lookups.
    let found = ok(
        s,
        "POST",
        "identity/lookup/group",
        Some(json!({"name": "ga"})),
    )
    .await;
    assert_eq!(found.body["data"]["id"], a.as_str());
    let found = ok(
        s,
        "POST",
        "identity/lookup/group",
        Some(json!({"alias_name": "ldap-team", "alias_mount_accessor": acc})),
    )
    .await;
    assert_eq!(found.body["data"]["id"], ext.as_str());
    let none = ok(
        s,
        "POST",
        "identity/lookup/group",
        Some(json!({"name": "nope"})),
    )
    .await;
    assert_eq!(none.status, 204);
    refused(
        s,
        "POST",
        "identity/lookup/group",
        json!({}),
        "query parameter not supplied",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/lookup/entity",
        json!({"name": "a", "id": "b"}),
        "query parameter conflict; please supply distinct set of query parameters",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/lookup/entity",
        json!({"alias_name": "a"}),
        "both 'alias_name' and 'alias_mount_accessor' needs to be set",
    )
    .await;
    let gids = ok(s, "LIST", "identity/group/id", None).await;
    assert_eq!(gids.body["data"]["key_info"][&a]["num_parent_groups"], 1);
    assert_eq!(
        ok(
            s,
            "DELETE",
            &format!("identity/group-alias/id/{gaid}"),
            None
        )
        .await
        .status,
        204
    );
    for g in ["gext", "gb", "ga"] {
        assert_eq!(
            ok(s, "DELETE", &format!("identity/group/name/{g}"), None)
                .await
                .status,
            204
        );
    }
    let empty = call(s, "LIST", "identity/group/id", Some("root"), None).await;
    assert_eq!(empty.status, 404, "{}", s.addr);
}

/// Logins: one entity per alias; identity policies through three nested groups; a
/// disabled entity's token refused.
async fn logins(s: &Server) {
    let acc = accessor(s, "userpass").await;
    write_policy(
        s,
        "pa",
        "path \"secret/data/only-a\" { capabilities = [\"read\"] }",
    )
    .await;
    ok(
        s,
        "POST",
        "secret/data/only-a",
        Some(json!({"data": {"v": 1}})),
    )
    .await;
    let first = login(s, "alice").await;
    let entity = first.body["auth"]["entity_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!entity.is_empty(), "{}", s.addr);
    let second = login(s, "alice").await;
    assert_eq!(second.body["auth"]["entity_id"], entity.as_str());
    let ent = ok(s, "GET", &format!("identity/entity/id/{entity}"), None).await;
    let aliases = ent.body["data"]["aliases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(aliases.len(), 1, "{}", s.addr);
    assert_eq!(aliases[0]["name"], "alice");
    assert_eq!(aliases[0]["mount_accessor"], acc.as_str());
    assert_eq!(aliases[0]["custom_metadata"], Value::Null, "{}", s.addr);
    let found = ok(
        s,
        "POST",
        "identity/lookup/entity",
        Some(json!({"alias_name": "alice", "alias_mount_accessor": acc})),
    )
    .await;
    assert_eq!(found.body["data"]["id"], entity.as_str());
    // Before any group: no identity policies, and `pa`'s path is refused.
    let token = second.body["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        second.body["auth"].get("identity_policies").is_none(),
        "{}",
        second.body
    );
    let denied = call(s, "GET", "secret/data/only-a", Some(&token), None).await;
    assert_eq!(denied.status, 403);
    // C ⊂ B ⊂ A, the entity in C.
    let c = id_of(
        &ok(
            s,
            "POST",
            "identity/group",
            Some(json!({"name": "C", "member_entity_ids": [entity]})),
        )
        .await,
    );
    let b = id_of(
        &ok(
            s,
            "POST",
            "identity/group",
            Some(json!({"name": "B", "member_group_ids": [c]})),
        )
        .await,
    );
    ok(
        s,
        "POST",
        "identity/group",
        Some(json!({"name": "A", "member_group_ids": [b], "policies": ["pa"]})),
    )
    .await;
    // The token already held now gets A's policy.
    let allowed = call(s, "GET", "secret/data/only-a", Some(&token), None).await;
    assert_eq!(allowed.status, 200, "{}: {}", s.addr, allowed.body);
    let caps = call(
        s,
        "POST",
        "sys/capabilities-self",
        Some(&token),
        Some(json!({"paths": ["secret/data/only-a"]})),
    )
    .await;
    assert_eq!(
        caps.body["data"]["secret/data/only-a"],
        json!(["read"]),
        "{}",
        s.addr
    );
    let ent = ok(s, "GET", &format!("identity/entity/id/{entity}"), None).await;
    assert_eq!(ent.body["data"]["direct_group_ids"], json!([c]));
    let mut inherited: Vec<String> =
        serde_json::from_value(ent.body["data"]["inherited_group_ids"].clone()).unwrap_or_default();
    inherited.sort();
    assert_eq!(inherited.len(), 2, "{}", s.addr);
    // A new login shows the policies apart.
    let third = login(s, "alice").await;
    let auth = &third.body["auth"];
    assert_eq!(
        auth["policies"],
        json!(["default", "pa", "tp"]),
        "{}",
        s.addr
    );
    assert_eq!(auth["token_policies"], json!(["default", "tp"]));
    assert_eq!(auth["identity_policies"], json!(["pa"]));
    // lookup-self shows the token's own policies.
    let t3 = auth["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let look = call(s, "GET", "auth/token/lookup-self", Some(&t3), None).await;
    assert_eq!(look.body["data"]["policies"], json!(["default", "tp"]));
    assert_eq!(
        look.body["data"]["identity_policies"],
        json!(["pa"]),
        "{}",
        s.addr
    );
    assert_eq!(look.body["data"]["external_namespace_policies"], json!({}));
    assert_eq!(look.body["data"]["entity_id"], entity.as_str());
    // Disabled: the token is refused, and so is a new login; enabled again, it works.
    ok(
        s,
        "POST",
        &format!("identity/entity/id/{entity}"),
        Some(json!({"disabled": true})),
    )
    .await;
    let refused_use = call(s, "GET", "auth/token/lookup-self", Some(&t3), None).await;
    assert_eq!(refused_use.status, 403, "{}: {}", s.addr, refused_use.body);
    assert_eq!(refused_use.body["errors"], json!(["permission denied"]));
    let refused_login = call(
        s,
        "POST",
        "auth/userpass/login/alice",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(
        refused_login.status, 403,
        "{}: {}",
        s.addr, refused_login.body
    );
    assert_eq!(refused_login.body["errors"], json!(["permission denied"]));
    ok(
        s,
        "POST",
        &format!("identity/entity/id/{entity}"),
        Some(json!({"disabled": false})),
    )
    .await;
    let back = call(s, "GET", "auth/token/lookup-self", Some(&t3), None).await;
    assert_eq!(back.status, 200, "{}", back.body);
    for g in ["A", "B", "C"] {
        ok(s, "DELETE", &format!("identity/group/name/{g}"), None).await;
    }
    let after = call(s, "GET", "secret/data/only-a", Some(&token), None).await;
    assert_eq!(after.status, 403);
}

/// Merge: aliases and group memberships move; a clash on one mount is refused.
async fn merge(s: &Server) {
    let acc = accessor(s, "userpass").await;
    let acc2 = accessor(s, "userpass2").await;
    let to = id_of(&ok(s, "POST", "identity/entity", Some(json!({"name": "m1"}))).await);
    let from = id_of(&ok(s, "POST", "identity/entity", Some(json!({"name": "m2"}))).await);
    let clash = id_of(&ok(s, "POST", "identity/entity", Some(json!({"name": "m3"}))).await);
    for (e, name, a) in [
        (&to, "x1", &acc),
        (&from, "x2", &acc2),
        (&clash, "x3", &acc),
    ] {
        ok(
            s,
            "POST",
            "identity/entity-alias",
            Some(json!({"name": name, "canonical_id": e, "mount_accessor": a})),
        )
        .await;
    }
    let g = id_of(
        &ok(
            s,
            "POST",
            "identity/group",
            Some(json!({"name": "MG", "member_entity_ids": [from]})),
        )
        .await,
    );
    refused(
        s,
        "POST",
        "identity/entity/merge",
        json!({"from_entity_ids": [from]}),
        "missing entity id to merge to",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity/merge",
        json!({"to_entity_id": to}),
        "missing entity ids to merge from",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity/merge",
        json!({"from_entity_ids": ["nope"], "to_entity_id": to}),
        "entity id to merge from is invalid",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity/merge",
        json!({"from_entity_ids": [from], "to_entity_id": "nope"}),
        "entity id to merge to is invalid",
    )
    .await;
    refused(
        s,
        "POST",
        "identity/entity/merge",
        json!({"from_entity_ids": [to], "to_entity_id": to}),
        "to_entity_id should not be present in from_entity_ids",
    )
    .await;
    let a = call(
        s,
        "POST",
        "identity/entity/merge",
        Some("root"),
        Some(json!({"from_entity_ids": [clash], "to_entity_id": to})),
    )
    .await;
    assert_eq!(a.status, 400);
    let text = a.body["errors"][0].as_str().unwrap_or_default();
    assert!(
        text.starts_with("2 errors occurred:\n\t* toEntity and at least one fromEntity have aliases with the same mount accessor, repeat the merge request specifying exactly one fromEntity, clashes: \n\t* mountAccessor: "),
        "{}: {text}",
        s.addr
    );
    let merged = ok(
        s,
        "POST",
        "identity/entity/merge",
        Some(json!({"from_entity_ids": [from], "to_entity_id": to})),
    )
    .await;
    assert_eq!(merged.status, 204);
    let e = ok(s, "GET", &format!("identity/entity/id/{to}"), None).await;
    let d = &e.body["data"];
    assert_eq!(d["merged_entity_ids"], json!([from]));
    assert_eq!(d["direct_group_ids"], json!([g]));
    let names: Vec<&str> = d["aliases"]
        .as_array()
        .map(|l| l.iter().filter_map(|a| a["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["x1", "x2"], "{}", s.addr);
    assert_eq!(d["aliases"][1]["canonical_id"], to.as_str());
    assert_eq!(d["aliases"][1]["merged_from_canonical_ids"], json!([from]));
    let gone = call(
        s,
        "GET",
        &format!("identity/entity/id/{from}"),
        Some("root"),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    let grp = ok(s, "GET", &format!("identity/group/id/{g}"), None).await;
    assert_eq!(grp.body["data"]["member_entity_ids"], json!([to]));
}

/// A token role's allowed entity alias: the token belongs to that alias's entity on the
/// token mount, the same one each time.
async fn token_entity_alias(s: &Server) {
    ok(
        s,
        "POST",
        "auth/token/roles/svc",
        Some(json!({"allowed_entity_aliases": ["svc-*"]})),
    )
    .await;
    let first = ok(
        s,
        "POST",
        "auth/token/create/svc",
        Some(json!({"entity_alias": "svc-A"})),
    )
    .await;
    let entity = first.body["auth"]["entity_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!entity.is_empty(), "{}: {}", s.addr, first.body);
    let again = ok(
        s,
        "POST",
        "auth/token/create/svc",
        Some(json!({"entity_alias": "svc-A"})),
    )
    .await;
    assert_eq!(again.body["auth"]["entity_id"], entity.as_str());
    let e = ok(s, "GET", &format!("identity/entity/id/{entity}"), None).await;
    let a = &e.body["data"]["aliases"][0];
    assert_eq!(
        (a["name"].as_str(), a["mount_type"].as_str()),
        (Some("svc-A"), Some("token"))
    );
    assert_eq!(a["mount_path"], "auth/token/");
    refused(
        s,
        "POST",
        "auth/token/create/svc",
        json!({"entity_alias": "other"}),
        "invalid 'entity_alias' value",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_end_to_end() {
    let servers = servers();
    for s in &servers {
        setup(s).await;
        entities(s).await;
        aliases(s).await;
        groups(s).await;
        logins(s).await;
        merge(s).await;
        token_entity_alias(s).await;
    }
    // Arca only, for now: a namespace's own identity mount does not share the root's store.
    let arca = &servers[0];
    ok(arca, "POST", "sys/namespaces/team-a", None).await;
    let a = call(
        arca,
        "POST",
        "team-a/identity/entity",
        Some("root"),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(
        a.body["errors"],
        json!(["the identity store is served in the root namespace only"])
    );
}

/// The index is rebuilt from storage at unseal: after a restart the same login finds the
/// same entity and its group's policy still applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_survives_a_restart() {
    let s = Server::with_config_extra(None, "");
    let (key, root) = init_unseal(&s).await;
    let root_call = |method: &'static str, path: String, body: Option<Value>| {
        let s = &s;
        let root = root.clone();
        async move {
            let a = call(s, method, &path, Some(&root), body).await;
            assert!(a.status < 300, "{path}: {} {}", a.status, a.body);
            a
        }
    };
    root_call(
        "POST",
        "sys/auth/userpass".into(),
        Some(json!({"type": "userpass"})),
    )
    .await;
    root_call(
        "POST",
        "auth/userpass/users/alice".into(),
        Some(json!({"password": "pw"})),
    )
    .await;
    let entity = login(&s, "alice").await.body["auth"]["entity_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    root_call(
        "POST",
        "identity/group".into(),
        Some(json!({"name": "g", "policies": ["gp"], "member_entity_ids": [entity]})),
    )
    .await;
    let dir = s.stop();
    let s = Server::with_config_extra(dir, "");
    common::unseal(&s, &key).await;
    let again = login(&s, "alice").await;
    assert_eq!(again.body["auth"]["entity_id"], entity.as_str());
    assert_eq!(again.body["auth"]["identity_policies"], json!(["gp"]));
    let read = call(
        &s,
        "GET",
        &format!("identity/entity/id/{entity}"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        read.body["data"]["aliases"].as_array().map(Vec::len),
        Some(1)
    );
}
