"""Self-written HTML pages that imitate application UIs; make.py renders them with headless Chromium.

PAGES maps a page name to a complete HTML document. Inside the triple-quoted markup a backslash at the
end of a line joins it to the next one (Python line continuation), only to keep source lines short:
the rendered markup is the same as if it were written on one line.
"""
import random

CSS = """body{font-family:'DejaVu Sans',Arial,sans-serif;margin:0;background:#f3f3f3;color:#222}
button{padding:6px 14px;border:1px solid #999;border-radius:4px;background:#fafafa;margin:4px}
button.primary{background:#2a6fdb;color:#fff;border-color:#1d56b0}
input,select{padding:5px;border:1px solid #aaa;border-radius:3px;font-size:13px}
"""


def page(title: str, body: str, extra_css: str = "") -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{CSS}{extra_css}</style></head><body>{body}</body></html>")


SETTINGS_DIALOG = page("Preferences", """
<div style='background:#fff;border:1px solid #888;margin:8px;box-shadow:0 2px 8px #0004'>
<div style='background:#dde3ea;padding:6px 10px;font-weight:bold;border-bottom:1px solid #aaa'>\
Preferences — Editor <span style='float:right'>✕</span></div>
<div style='display:flex'>
<ul style='list-style:none;margin:0;padding:8px;border-right:1px solid #ccc;width:110px;font-size:13px;\
line-height:24px'>
<li style='background:#2a6fdb;color:#fff;padding-left:4px'>General</li><li>Appearance</li><li>Fonts</li>\
<li>Keyboard</li><li>Plugins</li><li>Network</li></ul>
<div style='padding:10px;font-size:13px;flex:1'>
<label><input type=checkbox checked> Open last session on startup</label><br>
<label><input type=checkbox> Check for updates automatically</label><br>
<label><input type=checkbox checked> Show line numbers</label><br><br>
Theme: <select><option>System default</option><option>Dark</option></select><br><br>
Autosave every <input size=3 value=5> minutes<br><br>
<div style='text-align:right'><button>Cancel</button><button>Apply</button><button class=primary>OK</button>\
</div>
</div></div></div>""")

LOGIN_FORM = page("Sign in", """
<div style='max-width:340px;margin:60px auto;background:#fff;padding:28px;border-radius:10px;\
box-shadow:0 2px 12px #0003'>
<h2 style='margin-top:0;text-align:center'>Sign in to Acme Cloud</h2>
<p style='font-size:13px;color:#666;text-align:center'>Use your work account</p>
<label style='font-size:13px'>Email address</label><br>\
<input style='width:95%' value='j.doe@example.org'><br><br>
<label style='font-size:13px'>Password</label><br>\
<input type=password style='width:95%' value='secretpass'><br><br>
<label style='font-size:13px'><input type=checkbox checked> Keep me signed in</label><br><br>
<button class=primary style='width:100%;padding:10px'>Sign in</button>
<p style='font-size:12px;text-align:center'><a href='#'>Forgot password?</a> · <a href='#'>Create account</a></p>\
</div>""", "body{background:linear-gradient(#6a8fd0,#c7d6f0)}")


def chat_ui() -> str:
    messages = [("Anna", "Hi! Did you get the slides for tomorrow?", 0),
                ("me", "Yes, just uploaded them to the shared folder.", 1),
                ("Anna", "Great, thanks. Can you also check the budget table?", 0),
                ("me", "Sure, I'll have a look after lunch 🙂", 1),
                ("Anna", "Perfect. Meeting is at 10:30 in room B.", 0),
                ("me", "See you there!", 1),
                ("Anna", "👍", 0)]
    chat = "".join(
        f"<div style='text-align:{'right' if mine else 'left'};margin:6px 10px'>"
        f"<span style='display:inline-block;max-width:70%;padding:8px 12px;border-radius:14px;"
        f"background:{'#2a6fdb;color:#fff' if mine else '#fff'};font-size:14px;box-shadow:0 1px 2px #0002'>"
        f"{text}</span><div style='font-size:10px;color:#888'>10:{12 + i:02d}</div></div>"
        for i, (_who, text, mine) in enumerate(messages))
    contacts = [("Anna Berg", "Meeting is at 10:30…"), ("Dev team", "Build #482 passed"), ("Marco", "ok"),
                ("Family", "Photos from Sunday"), ("Lena K.", "Thanks!")]
    contact_list = "".join(
        f"<div style='padding:10px 12px;border-bottom:1px solid #eee;{'background:#e8f0fe' if i == 0 else ''}'>"
        f"<b>{name}</b><br><span style='font-size:12px;color:#777'>{last}</span></div>"
        for i, (name, last) in enumerate(contacts))
    return page("Chat", f"""
<div style='display:flex;height:100vh'>
<div class=side style='width:260px;background:#fff;border-right:1px solid #ddd'>
<div style='padding:12px;font-weight:bold;font-size:18px'>Chats</div>\
<input placeholder='Search' style='margin:0 10px;width:220px'>
{contact_list}
</div>
<div style='flex:1;display:flex;flex-direction:column;background:#e5ddd5'>
<div style='background:#fff;padding:12px;border-bottom:1px solid #ddd'><b>Anna Berg</b> \
<span style='color:green;font-size:12px'>● online</span></div>
<div style='flex:1;overflow:hidden'>{chat}</div>
<div style='background:#fff;padding:10px;display:flex'><input style='flex:1' placeholder='Type a message'>\
<button class=primary>Send</button></div>
</div></div>""", "@media (max-width:600px){.side{display:none}}")


def file_manager() -> str:
    files = [("Documents", "folder", "—", "12 Mar 2024"), ("Downloads", "folder", "—", "02 Jun 2024"),
             ("Music", "folder", "—", "18 Jan 2023"), ("Pictures", "folder", "—", "30 May 2024"),
             ("budget_2024.ods", "spreadsheet", "48.2 kB", "11 Apr 2024"),
             ("cv_jdoe.pdf", "PDF document", "212.7 kB", "09 Feb 2024"),
             ("holiday.jpg", "JPEG image", "3.4 MB", "21 Aug 2023"), ("notes.txt", "plain text", "2.1 kB", "Yesterday"),
             ("project.tar.gz", "archive", "18.9 MB", "Today"),
             ("report_final_v3.docx", "Word document", "96.0 kB", "15 May 2024"),
             ("setup.sh", "shell script", "1.3 kB", "03 Mar 2024"), ("song.mp3", "MP3 audio", "5.6 MB", "27 Dec 2022")]
    rows = "".join(
        f"<tr style='background:{'#dbe8fb' if i == 6 else ('#fff' if i % 2 else '#f7f7f7')}'>"
        f"<td>{'📁' if kind == 'folder' else '📄'} {name}</td><td>{size}</td><td>{kind}</td><td>{date}</td></tr>"
        for i, (name, kind, size, date) in enumerate(files))
    return page("Files", f"""
<div style='background:#e4e4e4;padding:6px;border-bottom:1px solid #bbb'><button>◀</button><button>▶</button>\
<button>▲</button>
<input style='width:50%' value='/home/jdoe'> <input placeholder='Search…'></div>
<div style='display:flex'><div style='width:170px;padding:8px;font-size:13px;line-height:26px;background:#ececec;\
height:100vh'>
<b>Places</b><br>🏠 Home<br>🖥 Desktop<br>📄 Documents<br>⬇ Downloads<br>🎵 Music<br>🖼 Pictures<br>🗑 Trash<br>\
<b>Devices</b><br>💾 System (48 GB)<br>💿 USB Drive</div>
<table style='flex:1;border-collapse:collapse;font-size:13px' cellpadding=5>\
<tr style='background:#ddd;text-align:left'><th>Name</th><th>Size</th><th>Type</th><th>Modified</th></tr>{rows}\
</table></div>
<div style='position:fixed;bottom:0;width:100%;background:#e4e4e4;font-size:12px;padding:4px'>\
12 items, 1 selected (3.4 MB), free space: 21.7 GB</div>""")


def spreadsheet() -> str:
    rng = random.Random(3)  # fixed amounts, the same on every build
    header = "".join(f"<th>{c}</th>" for c in " ABCDEFGHIJKL")
    items = ["Rent", "Utilities", "Groceries", "Transport", "Insurance", "Phone", "Internet", "Dining out",
             "Clothing", "Health", "Gifts", "Travel", "Savings", "Education", "Misc"]
    columns = ["Category", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Total"]
    body = ""
    for r in range(1, 34):
        cells = []
        for c in range(12):
            if r == 1:
                v = columns[c]
            elif r - 2 < len(items):
                if c == 0:
                    v = items[r - 2]
                elif c < 11:
                    v = f"{rng.randint(20, 1200)}.{rng.randint(0, 99):02d}"
                else:
                    v = f"=SUM(B{r}:K{r})"
            else:
                v = ""
            style = (('font-weight:bold;background:#e8eef7' if r == 1 else '')
                     + (';text-align:right' if c else '')
                     + (';outline:2px solid #2a6fdb' if (r == 5 and c == 3) else ''))
            cells.append(f"<td style='{style}'>{v}</td>")
        body += f"<tr><th>{r}</th>{''.join(cells)}</tr>"
    return page("budget.ods - Spreadsheet", f"""
<div style='background:#f0f0f0;padding:4px;font-size:13px;border-bottom:1px solid #ccc'>\
File Edit View Insert Format Sheet Data Tools Window Help</div>
<div style='background:#fafafa;padding:4px;border-bottom:1px solid #ccc'><button>B</button><button><i>I</i></button>\
<button><u>U</u></button><select><option>Liberation Sans</option></select><select><option>10 pt</option></select>\
<button>Σ</button><button>%</button></div>
<div style='padding:4px;font-size:13px;border-bottom:1px solid #ccc;background:#fff'>\
C5 &nbsp;|&nbsp; <i>fx</i> &nbsp; 412.07</div>
<table style='border-collapse:collapse;font-size:12px;background:#fff' border=1 cellpadding=3>\
<tr>{header}</tr>{body}</table>
<div style='position:fixed;bottom:0;width:100%;background:#eee;font-size:12px;padding:3px'>\
Sheet 1 of 3 &nbsp; | Default | English (USA) | Sum=412.07</div>""",
                "th{background:#eee;font-weight:normal;min-width:28px}td{min-width:70px}")


CONFIRM_DIALOG = page("Confirm", """
<div style='background:#fff;border:1px solid #888;margin:6px;height:calc(100vh - 14px);box-sizing:border-box'>
<div style='background:#dde3ea;padding:6px 10px;font-weight:bold;border-bottom:1px solid #aaa'>Save changes? \
<span style='float:right'>✕</span></div>
<div style='padding:18px;font-size:14px;display:flex'>\
<div style='font-size:40px;color:#e8a400;margin-right:14px'>⚠</div>
<div>Save changes to document “report_final_v3.docx” before closing?<br><br>\
<span style='font-size:12px;color:#666'>If you don't save, changes from the last 5 minutes will be permanently lost.\
</span></div></div>
<div style='text-align:right;padding:10px;position:absolute;bottom:12px;right:10px'>\
<button>Close without saving</button><button>Cancel</button><button class=primary>Save</button></div></div>""")

WIFI_DIALOG = page("Wi-Fi", """
<div style='background:#fff;margin:6px;border:1px solid #888;height:calc(100vh - 14px);box-sizing:border-box;\
font-size:13px'>
<div style='background:#dde3ea;padding:6px 10px;font-weight:bold;border-bottom:1px solid #aaa'>\
Connect to Wi-Fi network</div>
<div style='padding:12px'>Network: <b>HomeNet-5G</b> 🔒<br><br>\
Security: <select><option>WPA2 Personal</option></select><br><br>
Password: <input type=password value='abcdefgh'> <label><input type=checkbox> Show</label><br><br>
<label><input type=checkbox checked> Connect automatically</label></div>
<div style='text-align:right;padding:0 10px'><button>Cancel</button><button class=primary>Connect</button></div>\
</div>""")


def dashboard() -> str:
    cards = "".join(
        f"<div style='flex:1;background:#fff;padding:14px;border-radius:8px;box-shadow:0 1px 3px #0002'>"
        f"<div style='color:#777;font-size:12px'>{label}</div>"
        f"<div style='font-size:26px;font-weight:bold'>{value}</div></div>"
        for label, value in [("Revenue", "$48,210"), ("Orders", "1,284"), ("Customers", "932"), ("Refunds", "12")])
    return page("Admin dashboard", """
<div style='display:flex'><div style='width:200px;background:#1f2937;color:#ddd;height:100vh;padding:14px;\
font-size:14px;line-height:30px'>
<b style='color:#fff;font-size:18px'>▣ AdminPanel</b><br>Dashboard<br>Orders<br>Customers<br>Products<br>Reports<br>\
Settings</div>
<div style='flex:1;padding:16px'><h2 style='margin-top:0'>Dashboard</h2>
<div style='display:flex;gap:12px'>""" + cards + """</div>
<div style='background:#fff;margin-top:14px;padding:14px;border-radius:8px;box-shadow:0 1px 3px #0002'>\
<b>Sales last 12 months</b>
<svg width='100%' height='220' viewBox='0 0 600 220'><polyline fill='none' stroke='#2a6fdb' stroke-width='3' \
points='0,180 50,160 100,170 150,120 200,130 250,90 300,100 350,70 400,80 450,50 500,60 550,30 600,40'/></svg></div>
<table style='width:100%;background:#fff;margin-top:14px;border-collapse:collapse;font-size:13px' cellpadding=6>\
<tr style='background:#eee'><th>Order</th><th>Customer</th><th>Status</th><th>Total</th></tr>
<tr><td>#10421</td><td>M. Rossi</td><td>Shipped</td><td>$120.00</td></tr><tr><td>#10420</td><td>K. Tanaka</td>\
<td>Pending</td><td>$54.30</td></tr><tr><td>#10419</td><td>A. Smith</td><td>Delivered</td><td>$310.99</td></tr>\
</table>
</div></div>""")


def email_client() -> str:
    mails = [("GitLab", "Pipeline failed for main", "09:12"), ("Anna Berg", "Slides for tomorrow", "08:55"),
             ("Bank", "Your monthly statement", "Mon"), ("Newsletter", "10 tips for better sleep", "Sun"),
             ("HR", "Holiday calendar 2025", "Fri"), ("Marco", "Re: lunch?", "Thu")]
    inbox = "".join(
        f"<div style='padding:10px;border-bottom:1px solid #eee;{'background:#e8f0fe;' if i == 1 else ''}"
        f"{'font-weight:bold' if i < 3 else ''}'>{sender}"
        f"<span style='float:right;font-weight:normal;color:#888'>{date}</span><br>{subject}</div>"
        for i, (sender, subject, date) in enumerate(mails))
    return page("Inbox - Mail", """
<div style='display:flex;height:100vh;font-size:13px'>
<div style='width:180px;background:#eef1f5;padding:10px;line-height:28px'>\
<button class=primary style='width:100%'>✎ Compose</button><br><b>Inbox (3)</b><br>Starred<br>Sent<br>Drafts<br>\
Spam<br>Trash</div>
<div style='width:340px;border-right:1px solid #ddd;background:#fff'>""" + inbox + """</div>
<div style='flex:1;padding:16px;background:#fff'><h3 style='margin-top:0'>Slides for tomorrow</h3>\
<div style='color:#666'>Anna Berg &lt;anna@example.org&gt; to me · 08:55</div><hr>
<p>Hi,</p><p>could you send me the final version of the slides before 6pm? I'd like to rehearse once tonight.</p>\
<p>Thanks,<br>Anna</p>
<button>↩ Reply</button><button>↪ Forward</button></div></div>""")


CHECKOUT_FORM = page("Checkout", """
<div style='max-width:600px;margin:20px auto;background:#fff;padding:20px;border-radius:8px;font-size:14px'>
<h2>Checkout</h2><h4>Shipping address</h4>
<input placeholder='First name' value='Jane'> <input placeholder='Last name' value='Doe'><br><br>
<input style='width:90%' value='12 Example Street'><br><br><input value='Springfield'> <input size=8 value='12345'> \
<select><option>United States</option></select>
<h4>Payment</h4><label><input type=radio checked> Credit card</label> <label><input type=radio> PayPal</label>\
<br><br>
<input style='width:60%' value='4111 1111 1111 1111'> <input size=5 value='12/27'> <input size=4 value='123'><br><br>
<div style='background:#f7f7f7;padding:10px'>Subtotal $89.97<br>Shipping $4.99<br><b>Total $94.96</b></div><br>
<button class=primary style='width:100%;padding:10px'>Place order</button></div>""")

PAGES = {
    "settings_dialog": SETTINGS_DIALOG,
    "login_form": LOGIN_FORM,
    "chat_ui": chat_ui(),
    "file_manager": file_manager(),
    "spreadsheet": spreadsheet(),
    "confirm_dialog": CONFIRM_DIALOG,
    "wifi_dialog": WIFI_DIALOG,
    "dashboard": dashboard(),
    "email_client": email_client(),
    "checkout_form": CHECKOUT_FORM,
}
