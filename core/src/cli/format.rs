//! virsh's output layouts: `vshTable` tables, `%-15s %s` field lines and
//! `vshPrettyCapacity` sizes.

/// A table printed like virsh's `vshTable`: a header, a dashed line whose
/// length follows the widest cell of each column, and left-aligned cells.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells print empty, extra cells are ignored).
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let mut row: Vec<String> = cells
            .iter()
            .take(self.header.len())
            .map(|c| safe_cell(c.as_ref()))
            .collect();
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// The table as text; `with_header` is false in quiet mode.
    pub fn render(&self, with_header: bool) -> String {
        let mut widths: Vec<usize> = vec![0; self.header.len()];
        let measured = with_header
            .then_some(&self.header)
            .into_iter()
            .chain(&self.rows);
        for row in measured {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(display_width(cell));
            }
        }
        let mut out = String::new();
        if with_header {
            render_row(&mut out, &self.header, &widths);
            for w in &widths {
                out.push_str(&"-".repeat(w + 3));
            }
            out.push('\n');
        }
        for row in &self.rows {
            render_row(&mut out, row, &widths);
        }
        out
    }
}

fn render_row(out: &mut String, row: &[String], widths: &[usize]) {
    let last = row.len().saturating_sub(1);
    for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
        out.push(' ');
        out.push_str(cell);
        if i < last {
            let pad = w - display_width(cell) + 2;
            out.push_str(&" ".repeat(pad));
        }
    }
    out.push('\n');
}

/// Columns a cell takes on a terminal (wide characters are rare in names;
/// every character counts as one column, as in the C locale).
fn display_width(s: &str) -> usize {
    s.chars().count()
}

/// Control characters are printed as `\xNN` so they cannot break the layout.
fn safe_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One `Label:          value` line (`%-15s %s` in virsh).
pub fn field(label: &str, value: impl std::fmt::Display) -> String {
    format!("{label:<15} {value}\n")
}

/// One `nodeinfo` line (`%-20s %s` in virsh).
pub fn wide_field(label: &str, value: impl std::fmt::Display) -> String {
    format!("{label:<20} {value}\n")
}

/// A size as virsh prints it: `10.00 GiB`, `196.00 KiB`, `0.00 B`.
pub fn pretty_capacity(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut limit: u128 = 1024;
    let mut index = 0;
    while index < UNITS.len() - 1 && u128::from(bytes) >= limit {
        limit *= 1024;
        index += 1;
    }
    let value = bytes as f64 / 1024f64.powi(index as i32);
    format!("{value:.2} {}", UNITS[index])
}

/// `yes` / `no`, as virsh prints booleans in tables and info.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_list_matches_virsh_9_layout() {
        let mut t = Table::new(&["Name", "State", "Autostart", "Persistent"]);
        t.row(&["192.168.10.0", "inactive", "no", "yes"]);
        t.row(&["192.168.160.0", "inactive", "no", "yes"]);
        t.row(&["default", "active", "yes", "yes"]);
        let expected = concat!(
            " Name            State      Autostart   Persistent\n",
            "----------------------------------------------------\n",
            " 192.168.10.0    inactive   no          yes\n",
            " 192.168.160.0   inactive   no          yes\n",
            " default         active     yes         yes\n",
        );
        assert_eq!(t.render(true), expected);
    }

    #[test]
    fn empty_list_keeps_header_widths() {
        let t = Table::new(&["Id", "Name", "State"]);
        assert_eq!(t.render(true), " Id   Name   State\n--------------------\n");
        assert_eq!(t.render(false), "");
    }

    #[test]
    fn list_matches_libvirt_test_output() {
        let mut t = Table::new(&["Id", "Name", "State"]);
        t.row(&["1", "fv0", "running"]);
        t.row(&["-", "fc4", "shut off"]);
        assert_eq!(
            t.render(true),
            concat!(
                " Id   Name   State\n",
                "-----------------------\n",
                " 1    fv0    running\n",
                " -    fc4    shut off\n",
            )
        );
    }

    #[test]
    fn quiet_tables_measure_rows_only() {
        let mut t = Table::new(&["Name", "Path"]);
        t.row(&["a", "/p/a"]);
        assert_eq!(t.render(false), " a   /p/a\n");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut t = Table::new(&["Name"]);
        t.row(&["a\tb"]);
        assert_eq!(t.render(false), " a\\x09b\n");
    }

    #[test]
    fn fields_align_like_virsh() {
        assert_eq!(
            field("Name:", "192.168.10.0"),
            "Name:           192.168.10.0\n"
        );
        assert_eq!(field("Security model:", "none"), "Security model: none\n");
        assert_eq!(
            wide_field("CPU model:", "x86_64"),
            "CPU model:           x86_64\n"
        );
        assert_eq!(
            wide_field("Core(s) per socket:", 2),
            "Core(s) per socket:  2\n"
        );
    }

    #[test]
    fn capacities_use_binary_units() {
        assert_eq!(pretty_capacity(0), "0.00 B");
        assert_eq!(pretty_capacity(1023), "1023.00 B");
        assert_eq!(pretty_capacity(1024), "1.00 KiB");
        assert_eq!(pretty_capacity(200_704), "196.00 KiB");
        assert_eq!(pretty_capacity(10 << 30), "10.00 GiB");
        assert_eq!(pretty_capacity(490_610_688_000), "456.92 GiB");
        assert_eq!(pretty_capacity(u64::MAX), "16.00 EiB");
    }
}
