; Inno Setup script for mua's Windows installer (Inno Setup 6.3 or later).
;
;   pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/mua.spec
;   iscc packaging\windows\mua.iss
;
; The spec writes build\packaging\version.iss (name, version, AppId... from
; packaging/appmeta.py, which reads mua/__init__.py) and build\packaging\icons\mua.ico;
; nothing about the version is typed here. Output: dist\mua-VERSION-windows-x64-setup.exe.
;
; Installs per user by default (no administrator rights; %LOCALAPPDATA%\Programs\mua), or
; for all users when the user picks it. Start-menu entry (muaw.exe: no console window),
; optional desktop icon, an uninstaller, and .eml files offered to open with mua: registered
; under OpenWithProgids, since Windows lets only the user choose the default program.

#include "..\..\build\packaging\version.iss"

[Setup]
AppId={#AppGuid}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppComments={#AppSummary}
VersionInfoVersion={#AppVersionNumeric}
VersionInfoProductVersion={#AppVersionNumeric}
VersionInfoDescription={#AppName} {#AppVersion} setup
DefaultDirName={autopf}\mua
DefaultGroupName=mua
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
OutputDir=..\..\dist
OutputBaseFilename=mua-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\build\packaging\icons\mua.ico
UninstallDisplayIcon={app}\muaw.exe
UninstallDisplayName={#AppName} {#AppVersion}
WizardStyle=modern
#ifdef Sign
; iscc /DSign "/Smua=signtool sign ... $f": signs the setup and the uninstaller (README).
SignTool=mua
SignedUninstaller=yes
#endif
Compression=lzma2/max
SolidCompression=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "emlfiles"; Description: "Offer mua to open e-mail messages (.eml)"; GroupDescription: "File types:"

[Files]
; The whole PyInstaller folder: mua.exe (console, the CLI), muaw.exe (the app), _internal\.
Source: "..\..\dist\mua\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\mua"; Filename: "{app}\muaw.exe"; Comment: "{#AppSummary}"
Name: "{autodesktop}\mua"; Filename: "{app}\muaw.exe"; Comment: "{#AppSummary}"; Tasks: desktopicon

[Registry]
; HKA is HKCU for a per-user install and HKLM for an all-users one.
Root: HKA; Subkey: "Software\Classes\{#AppProgId}"; ValueType: string; ValueName: ""; ValueData: "E-mail message"; Flags: uninsdeletekey; Tasks: emlfiles
Root: HKA; Subkey: "Software\Classes\{#AppProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\muaw.exe,0"; Tasks: emlfiles
Root: HKA; Subkey: "Software\Classes\{#AppProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\muaw.exe"" {#OpenEmlArgs} ""%1"""; Tasks: emlfiles
Root: HKA; Subkey: "Software\Classes\.eml\OpenWithProgids"; ValueType: string; ValueName: "{#AppProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: emlfiles
Root: HKA; Subkey: "Software\Classes\Applications\muaw.exe"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "mua"; Flags: uninsdeletekey; Tasks: emlfiles
Root: HKA; Subkey: "Software\Classes\Applications\muaw.exe\SupportedTypes"; ValueType: string; ValueName: ".eml"; ValueData: ""; Tasks: emlfiles
Root: HKA; Subkey: "Software\Classes\Applications\muaw.exe\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\muaw.exe"" {#OpenEmlArgs} ""%1"""; Tasks: emlfiles

[Run]
Filename: "{app}\muaw.exe"; Description: "{cm:LaunchProgram,mua}"; Flags: nowait postinstall skipifsilent
