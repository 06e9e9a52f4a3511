//! One row of the manager's list: a domain's state icon, name, state and
//! usage columns. Rows are kept across updates so graphs keep their history.

use gtk4::prelude::*;
use hangar_core::api::{DomainInfo, DomainState, DomainStats};

use crate::format;
use crate::widgets::sparkline::Sparkline;

/// Width of each optional usage column, in pixels.
pub const COLUMN_WIDTH: i32 = 96;

/// Which optional columns are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// CPU usage sparkline.
    pub cpu: bool,
    /// Memory in use.
    pub memory: bool,
    /// Disk read+write rate.
    pub disk: bool,
    /// Network receive+send rate.
    pub network: bool,
}

/// The widgets of one domain row.
pub struct DomainRow {
    row: gtk4::ListBoxRow,
    icon: gtk4::Image,
    name: gtk4::Label,
    state: gtk4::Label,
    cpu: Sparkline,
    memory: gtk4::Label,
    disk: gtk4::Label,
    network: gtk4::Label,
    last_stats: Option<(DomainStats, std::time::Instant)>,
    /// The domain as last reported.
    pub info: DomainInfo,
}

impl DomainRow {
    /// Builds the row for `info`.
    pub fn new(info: DomainInfo, columns: Columns) -> Self {
        let row = gtk4::ListBoxRow::builder()
            .css_classes(["domain-row"])
            .build();
        let layout = gtk4::Box::new(gtk4::Orientation::Horizontal, 10);
        let icon = gtk4::Image::builder().pixel_size(24).build();
        layout.append(&icon);
        let text = gtk4::Box::new(gtk4::Orientation::Vertical, 2);
        text.set_hexpand(true);
        let name = gtk4::Label::builder()
            .xalign(0.0)
            .ellipsize(gtk4::pango::EllipsizeMode::End)
            .css_classes(["domain-name"])
            .build();
        let state = gtk4::Label::builder()
            .xalign(0.0)
            .css_classes(["domain-state"])
            .build();
        text.append(&name);
        text.append(&state);
        layout.append(&text);
        let cpu = Sparkline::new(COLUMN_WIDTH - 8, 24);
        cpu.widget().set_size_request(COLUMN_WIDTH, -1);
        layout.append(cpu.widget());
        let value_label = || {
            gtk4::Label::builder()
                .width_request(COLUMN_WIDTH)
                .xalign(1.0)
                .css_classes(["numeric"])
                .build()
        };
        let memory = value_label();
        let disk = value_label();
        let network = value_label();
        layout.append(&memory);
        layout.append(&disk);
        layout.append(&network);
        row.set_child(Some(&layout));
        let mut this = Self {
            row,
            icon,
            name,
            state,
            cpu,
            memory,
            disk,
            network,
            last_stats: None,
            info: info.clone(),
        };
        this.update(info);
        this.show_columns(columns);
        this
    }

    /// The list row.
    pub fn widget(&self) -> &gtk4::ListBoxRow {
        &self.row
    }

    /// Shows a new report of the domain.
    pub fn update(&mut self, info: DomainInfo) {
        let state_text = format::domain_state(info.state);
        self.name.set_label(&info.name);
        self.state.set_label(&state_text);
        self.icon
            .set_icon_name(Some(format::domain_state_icon(info.state)));

        if !info.state.is_active() || info.state == DomainState::Paused {
            self.memory.set_label("");
            self.disk.set_label("");
            self.network.set_label("");
            self.last_stats = None;
        }
        if info.title.as_deref().is_some_and(|title| !title.is_empty()) {
            self.row.set_tooltip_text(info.title.as_deref());
        }
        // After the tooltip, which GTK would otherwise make the description:
        // assistive technologies read the name and the state.
        self.row.update_property(&[
            gtk4::accessible::Property::Label(&info.name),
            gtk4::accessible::Property::Description(&state_text),
        ]);
        self.info = info;
    }

    /// Adds one usage sample.
    pub fn add_stats(&mut self, stats: DomainStats) {
        let now = std::time::Instant::now();
        if let Some((previous, at)) = &self.last_stats {
            let elapsed = now.duration_since(*at).as_secs_f64();
            if elapsed > 0.0 {
                let cpu_ns = stats.cpu_time_ns.saturating_sub(previous.cpu_time_ns) as f64;
                let fraction = cpu_ns / (elapsed * 1e9 * f64::from(stats.vcpus.max(1)));
                self.cpu.push(fraction);
                self.cpu
                    .widget()
                    .set_tooltip_text(Some(&format::percent(fraction)));
                let rate = |now: u64, before: u64| {
                    format!(
                        "{}/s",
                        format::bytes((now.saturating_sub(before) as f64 / elapsed) as u64)
                    )
                };
                self.disk.set_label(&rate(
                    stats.disk_read_bytes + stats.disk_write_bytes,
                    previous.disk_read_bytes + previous.disk_write_bytes,
                ));
                self.network.set_label(&rate(
                    stats.net_rx_bytes + stats.net_tx_bytes,
                    previous.net_rx_bytes + previous.net_tx_bytes,
                ));
            }
        }
        self.memory.set_label(&format::kib(stats.memory_kib));
        self.last_stats = Some((stats, now));
    }

    /// The time of the last usage sample.
    pub fn last_sample(&self) -> Option<std::time::Instant> {
        self.last_stats.as_ref().map(|(_, at)| *at)
    }

    /// Shows or hides the optional columns.
    pub fn show_columns(&self, columns: Columns) {
        self.cpu.widget().set_visible(columns.cpu);
        self.memory.set_visible(columns.memory);
        self.disk.set_visible(columns.disk);
        self.network.set_visible(columns.network);
    }
}
