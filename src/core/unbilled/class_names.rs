//! The class names a recorder has met, as small integers in its row keys.
use foldhash::HashMap;

/// The class names a recorder has met, each given a small index once.
#[derive(Debug)]
pub struct ClassNames {
    names: Vec<String>,
    ids: HashMap<String, u16>,
}

impl Default for ClassNames {
    fn default() -> Self {
        ClassNames { names: vec![String::new()], ids: HashMap::from_iter([(String::new(), 0)]) }
    }
}

impl ClassNames {
    /// The index of class `name` ("" is the cgroup's total, 0).
    pub fn id(&mut self, name: &str) -> u16 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u16;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub fn name(&self, id: u16) -> &str {
        self.names.get(usize::from(id)).map_or("", String::as_str)
    }
}
