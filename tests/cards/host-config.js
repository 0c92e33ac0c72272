// Why: the card must be judged with the colours, fonts and spacing Teams gives it, not the
// renderer's defaults. These are the values of Microsoft's sample host config for Teams' light
// theme, <https://github.com/microsoft/AdaptiveCards/blob/main/samples/HostConfig/microsoft-teams-light.json>
// (written out here, with the foreground colours shared by every container style listed once).
// Segoe UI is not on Linux: the fallback (DejaVu Sans on Debian) is wider, so line counts err on
// the long side.
(function () {
  const foregroundColors = {
    default: { default: "#ff252424", subtle: "#bf252424" },
    dark: { default: "#252424", subtle: "#bf252424" },
    light: { default: "#ffffff", subtle: "#fff3f2f1" },
    accent: { default: "#6264a7", subtle: "#8b8cc7" },
    good: { default: "#92c353", subtle: "#e592c353" },
    warning: { default: "#f8d22a", subtle: "#e5f8d22a" },
    attention: { default: "#c4314b", subtle: "#e5c4314b" },
  };
  const style = (backgroundColor) => ({ backgroundColor, foregroundColors });
  const fontSizes = { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 };
  const fontWeights = { lighter: 200, default: 400, bolder: 600 };
  window.TEAMS_HOST_CONFIG = {
    supportsInteractivity: true,
    spacing: { small: 8, default: 12, medium: 16, large: 20, extraLarge: 24, padding: 16 },
    separator: { lineThickness: 1, lineColor: "#EEEEEE" },
    imageSizes: { small: 32, medium: 52, large: 100 },
    fontTypes: {
      default: { fontFamily: "'Segoe UI', Tahoma, Geneva, Verdana, sans-serif", fontSizes, fontWeights },
      monospace: { fontFamily: "'Courier New', Courier, monospace", fontSizes, fontWeights },
    },
    containerStyles: {
      default: style("#ffffff"),
      emphasis: style("#fff9f8f7"),
      accent: style("#C7DEF9"),
      good: style("#CCFFCC"),
      attention: style("#FFC5B2"),
      warning: style("#FFE2B2"),
    },
    actions: {
      maxActions: 6,
      spacing: "Default",
      buttonSpacing: 8,
      showCard: { actionMode: "Inline", inlineTopMargin: 16, style: "emphasis" },
      preExpandSingleShowCardAction: false,
      actionsOrientation: "Horizontal",
      actionAlignment: "Left",
    },
    adaptiveCard: { allowCustomStyle: false },
    imageSet: { imageSize: "Medium", maxImageHeight: 100 },
    factSet: {
      title: { size: "Default", color: "Default", isSubtle: false, weight: "Bolder", wrap: true },
      value: { size: "Default", color: "Default", isSubtle: false, weight: "Default", wrap: true },
      spacing: 16,
    },
  };
})();
