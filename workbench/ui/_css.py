"""The page's stylesheet: one set of CSS variables, light and dark.

Dark mode is a class on the page header (``wb-dark``) that ``body:has()``
picks up, so panels displayed in separate notebook cells all follow it.
Colours were chosen for WCAG AA contrast on their backgrounds (axe-core checks
the page in the browser tests).
"""

CSS = """
<style>
body { --wb-bg:#f5f6f8; --wb-card:#ffffff; --wb-fg:#1f2430; --wb-muted:#545b66; --wb-border:#dde1e6;
       --wb-ok:#166534; --wb-ok-bg:#dcfce7; --wb-warn:#854d0e; --wb-warn-bg:#fef3c7; --wb-crit:#991b1b; --wb-crit-bg:#fee2e2;
       --wb-info:#1e40af; --wb-info-bg:#dbeafe; --wb-accent:#1d4ed8; --wb-sel:#e0e7ff; }
body:has(.wb-dark) { --wb-bg:#0f1216; --wb-card:#181c22; --wb-fg:#e3e6ea; --wb-muted:#a3abb6; --wb-border:#2c323a;
       --wb-ok:#86efac; --wb-ok-bg:#12301f; --wb-warn:#fcd34d; --wb-warn-bg:#3a2c0b; --wb-crit:#fca5a5; --wb-crit-bg:#3b1414;
       --wb-info:#93c5fd; --wb-info-bg:#142544; --wb-accent:#93c5fd; --wb-sel:#26304a; }
body, body .jp-Notebook, #rendered_cells, #rendered_cells > div { background: var(--wb-bg) !important; color: var(--wb-fg); }
#rendered_cells { padding: 8px 12px !important; }
#rendered_cells > div { padding: 0 !important; box-shadow: none !important; }
.jp-OutputArea-output, .jp-Cell-outputWrapper { background: transparent !important; }
.jp-OutputPrompt, .jp-InputPrompt { display: none !important; }
.wb-muted { color: var(--wb-muted); }
.wb-small { font-size: 12px; }
.wb-h { font-size: 15px; font-weight: 600; margin: 0 0 6px 0; color: var(--wb-fg); }
.wb-header { align-items: center; gap: 8px; flex-wrap: wrap; padding: 6px 2px; }
.wb-header .widget-label, .wb-header label, .wb-panel .widget-label, .wb-panel label, .wb-bar .widget-label, .wb-bar label { color: var(--wb-fg) !important; }
.wb-bar { padding: 4px 2px; }
.wb-brand { font-size: 18px; font-weight: 700; color: var(--wb-fg); margin-right: 8px; }
.wb-grid { display: grid !important; grid-template-columns: repeat(auto-fit, minmax(min(100%, 540px), 1fr)); gap: 12px; width: 100%; }
.wb-wide { grid-column: 1 / -1; }
.wb-panel { background: var(--wb-card); border: 1px solid var(--wb-border); border-radius: 8px; padding: 10px 12px;
            min-width: 0; overflow: hidden; color: var(--wb-fg); }
.wb-cards { display: grid !important; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 10px; width: 100%; }
.wb-card { margin: 0 !important; }
.wb-card-in { background: var(--wb-card); border: 1px solid var(--wb-border); border-left: 4px solid var(--wb-border);
              border-radius: 8px; padding: 8px 10px; color: var(--wb-fg); line-height: 1.3; }
.wb-card-in.wb-ok { border-left-color: #16a34a; } .wb-card-in.wb-warn { border-left-color: #d97706; }
.wb-card-in.wb-crit { border-left-color: #dc2626; background: var(--wb-crit-bg); }
.wb-card-label { font-size: 12px; color: var(--wb-muted); }
.wb-card-value { font-size: 24px; font-weight: 650; white-space: nowrap; }
.wb-card-unit { font-size: 13px; font-weight: 500; color: var(--wb-muted); }
.wb-card-change { font-size: 11px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.wb-spark { display: block; color: var(--wb-accent); max-width: 100%; }
.wb-pill { display: inline-block; padding: 1px 7px; border-radius: 999px; font-size: 11px; font-weight: 600; }
.wb-pill.wb-crit { background: var(--wb-crit-bg); color: var(--wb-crit); }
.wb-pill.wb-warn { background: var(--wb-warn-bg); color: var(--wb-warn); }
.wb-pill.wb-ok { background: var(--wb-ok-bg); color: var(--wb-ok); }
.wb-pill.wb-info { background: var(--wb-info-bg); color: var(--wb-info); }
.wb-crit-text { color: var(--wb-crit); }
.wb-badge { font-size: 10px; padding: 0 5px; border-radius: 4px; background: var(--wb-info-bg); color: var(--wb-info); font-weight: 600; }
.wb-alert-row { border-top: 1px solid var(--wb-border); padding: 6px 0; gap: 8px; }
.wb-alert { color: var(--wb-fg); line-height: 1.45; }
.wb-alert-resolved { padding: 3px 0; border-top: 1px solid var(--wb-border); }
.wb-confirm { border: 1px solid var(--wb-accent); border-radius: 6px; padding: 8px; margin: 6px 0; }
.wb-empty { color: var(--wb-muted); padding: 8px 0; }
.wb-caps { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
.wb-cap { border: 1px solid var(--wb-border); border-radius: 6px; padding: 6px 8px; font-size: 12px; color: var(--wb-fg); }
.wb-table-bar { display: flex; gap: 8px; align-items: center; margin-bottom: 4px; }
.wb-table-bar input { background: var(--wb-card); color: var(--wb-fg); border: 1px solid var(--wb-border); border-radius: 4px; padding: 2px 6px; }
.wb-table-count { font-size: 11px; color: var(--wb-muted); }
.wb-table-wrap { max-height: 320px; overflow: auto; }
.wb-table table { border-collapse: collapse; width: 100%; font-size: 12px; color: var(--wb-fg); }
.wb-table th { position: sticky; top: 0; background: var(--wb-card); text-align: left; cursor: pointer; padding: 4px 6px;
               border-bottom: 1px solid var(--wb-border); white-space: nowrap; }
.wb-table td { padding: 3px 6px; border-bottom: 1px solid var(--wb-border); max-width: 420px; overflow: hidden;
               text-overflow: ellipsis; white-space: nowrap; vertical-align: middle; }
.wb-table td .wb-spark { display: inline-block; vertical-align: middle; }
.wb-fleetview .wb-table td { max-width: none; }
.wb-table .wb-num { text-align: right; font-variant-numeric: tabular-nums; }
.wb-table tr.wb-selected td { background: var(--wb-sel); }
.wb-table tbody tr[tabindex]:hover td { background: var(--wb-sel); cursor: pointer; }
.wb-fleet-v { font-variant-numeric: tabular-nums; }
.wb-log { margin-top: 12px; font-size: 12px; color: var(--wb-fg); }
.wb-log pre { white-space: pre-wrap; margin: 0 0 4px 0; font-size: 11px; color: var(--wb-fg); }
.wb-log-error b, .wb-log-critical b { color: var(--wb-crit); } .wb-log-warning b { color: var(--wb-warn); }
.wb-log-title { font-weight: 600; }
.wb-log .widget-html-content, .wb-log-title, .wb-panel .widget-html-content { color: var(--wb-fg) !important; }
.wb-chart { width: 100%; }
.wb-panel .widget-toggle-buttons .widget-toggle-button, .wb-header .widget-toggle-button { font-size: 12px; }
.wb-panel .jupyter-button, .wb-header .jupyter-button { color: #1f2430; }
.wb-panel .jupyter-button.mod-primary { color: #ffffff; background: #1d4ed8; }
.wb-panel .widget-dropdown select, .wb-header .widget-dropdown select, .wb-bar .widget-dropdown select,
.wb-header input, .wb-panel input, .wb-bar input {
  background: var(--wb-card) !important; color: var(--wb-fg) !important; border-color: var(--wb-border) !important; }
.wb-panel .lm-Widget.p-Accordion, .wb-panel .jupyter-widget-Collapse-header { background: transparent; color: var(--wb-fg); }
.wb-panel .jupyter-widget-Collapse-header, .wb-panel .jupyter-widget-Collapse-contents { border-color: var(--wb-border); background: transparent; }
@media (max-width: 800px) { .wb-card-value { font-size: 20px; } .wb-table td { max-width: 180px; } }
</style>
"""
