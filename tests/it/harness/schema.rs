//! The JSON examples of docs/json.md, and the check that a real document has their shape
//! (the docs tests, and any test that makes a documented document).
/// The JSON example after `<!-- schema:NAME -->` in docs/json.md.
pub fn readme_example(name: &str) -> serde_json::Value {
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
        .unwrap();
    let marker = format!("<!-- schema:{name} -->\n```json\n");
    let start = doc.find(&marker).unwrap_or_else(|| panic!("docs/json.md has no {marker}")) + marker.len();
    let end = start + doc[start..].find("```").unwrap();
    serde_json::from_str(&doc[start..end]).unwrap_or_else(|e| panic!("docs/json.md's {name} example: {e}"))
}

/// Every object in `real` has exactly the keys of the matching object in `doc`, every value
/// the documented JSON type (null stands in for any scalar on either side, never for an
/// object or an array), recursing into the first element of arrays. An array documented with
/// elements must have some in the real output (else its elements were never compared), and
/// one documented empty must be empty.
pub fn shape_diff(path: &str, doc: &serde_json::Value, real: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value::*;
    let kind = |v: &serde_json::Value| match v {
        Null => "null",
        Bool(_) => "boolean",
        Number(_) => "number",
        String(_) => "string",
        Array(_) => "array",
        Object(_) => "object",
    };
    match (doc, real) {
        (Object(d), Object(r)) => {
            let dk: Vec<&std::string::String> = d.keys().collect();
            let rk: Vec<&std::string::String> = r.keys().collect();
            if dk != rk {
                return Err(format!("{path}: docs/json.md documents {dk:?}, netattr prints {rk:?}"));
            }
            for (k, v) in d {
                shape_diff(&format!("{path}.{k}"), v, &r[k])?;
            }
            Ok(())
        }
        (Array(d), Array(r)) => match (d.first(), r.first()) {
            (Some(d0), Some(r0)) => shape_diff(&format!("{path}[]"), d0, r0),
            (None, None) => Ok(()),
            (Some(_), None) => Err(format!(
                "{path}: docs/json.md shows elements, netattr printed none (the test must make some)"
            )),
            (None, Some(r0)) => Err(format!("{path}: docs/json.md shows no element, netattr printed {r0}")),
        },
        (Null, Bool(_) | Number(_) | String(_)) | (Bool(_) | Number(_) | String(_), Null) => Ok(()),
        (d, r) if kind(d) == kind(r) => Ok(()),
        (d, r) => {
            Err(format!("{path}: docs/json.md documents {} ({d}), netattr prints {} ({r})", kind(d), kind(r)))
        }
    }
}

pub fn same_shape(path: &str, doc: &serde_json::Value, real: &serde_json::Value) {
    if let Err(e) = shape_diff(path, doc, real) {
        panic!("{e}");
    }
}
